package client

import (
	"context"
	"strconv"

	"github.com/socketipc/socketipc/emitter"
	"github.com/socketipc/socketipc/internal/endpoint"
	"github.com/socketipc/socketipc/message"
)

// Request sends msg as a request for topic to the server and waits for the
// reply, which it decodes into reply (a non-nil pointer; nil ignores it).
// It returns the error of a failed send (a *message.SendError, as Send's:
// message.ErrNoServer while not connected), a *message.RemoteError when
// the server answered with a failure (its handler's error, or no handler
// for topic), ctx's error when ctx ends first, and an error matching
// message.ErrRequestInterrupted at once when the connection drops or the
// Client closes before the reply (a request is never resent on the next
// connection). It must not be called from a listener or handler (it would
// wait for the loop it blocks): there it fails with
// message.ErrRequestOnLoop. Many requests may be in flight at once, from
// any goroutines. See docs/USAGE.md, "Request and reply".
func (c *Client) Request(ctx context.Context, topic string, msg, reply any) error {
	e, err := c.core()
	if err != nil {
		return err
	}
	op := "request " + strconv.Quote(topic)
	return e.Request(ctx, op, c.currentConn, topic, msg, reply, message.ErrNoServer, nil, func(err error) error {
		return &message.SendError{Topic: topic, Message: msg, Err: err}
	})
}

// Handle registers fn as the handler of the requests for topic that the
// server sends (with server.Server.Request, or a Node peer following the
// convention), and returns the handle that removes it. It runs on the event
// loop like a listener; see server.Handle for the rest, which is the same.
func Handle[Req, Resp any](c *Client, topic string, fn func(ctx context.Context, req Req) (Resp, error)) emitter.Handle {
	if c == nil || fn == nil {
		if fn == nil {
			panic("socketipc: Handle with a nil func")
		}
		return emitter.Handle{}
	}
	return endpoint.Handle(c.e, topic, func(ctx context.Context, req Req, _ string) (Resp, error) { return fn(ctx, req) })
}

// ReplyLater, called by a handler with the ctx it was given, detaches its
// request: see server.ReplyLater.
func ReplyLater(ctx context.Context) (reply func(resp any, err error) error) {
	return endpoint.ReplyLater(ctx)
}
