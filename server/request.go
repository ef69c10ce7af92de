package server

import (
	"context"
	"strconv"

	"github.com/socketipc/socketipc/emitter"
	"github.com/socketipc/socketipc/internal/conn"
	"github.com/socketipc/socketipc/internal/endpoint"
	"github.com/socketipc/socketipc/message"
)

// Request sends msg as a request for topic to one client and waits for the
// reply, which it decodes into reply (a non-nil pointer; nil ignores it).
// It returns the error of a failed send (a *message.SendError, as Send's),
// a *message.RemoteError when the client answered with a failure (its
// handler's error, or no handler for topic), ctx's error when ctx ends
// first, and an error matching message.ErrRequestInterrupted at once when
// that client's connection ends or the Server closes before the reply.
// It must not be called from a listener or handler (it would wait for the
// loop it blocks): there it fails with message.ErrRequestOnLoop. Many
// requests may be in flight at once, from any goroutines. See
// docs/USAGE.md, "Request and reply", for the wire convention.
func (s *Server) Request(ctx context.Context, clientID, topic string, msg, reply any) error {
	e, err := s.core()
	if err != nil {
		return err
	}
	client := func() *conn.Conn {
		if pub := s.clients[clientID]; pub != nil {
			return pub.c
		}
		return nil
	}
	op := "request " + strconv.Quote(topic) + " to client " + clientID
	return e.Request(ctx, op, client, topic, msg, reply, message.ErrBadClient, s.queueFull, func(err error) error {
		return &message.SendError{Topic: topic, Message: msg, ClientID: clientID, Err: err}
	})
}

// Handle registers fn as the handler of the requests for topic that
// clients send (with client.Client.Request, or a Node peer following the
// convention), and returns the handle that removes it. fn runs on the
// event loop, serially with listeners, like a listener of
// "message.$req.<topic>" (which it is); requests do not reach "message"
// listeners. Its result is the reply; its error reaches the caller as a
// *message.RemoteError carrying err's text. A request whose payload does
// not fit Req is answered with a failure without calling fn; a panic in fn
// is answered with a failure and reported on "error".
//
// ctx is done when the client's connection has ended. A handler that must
// wait for something should not block the loop: it calls ReplyLater(ctx),
// hands the returned func to a goroutine and returns at once; its return
// values are then ignored.
func Handle[Req, Resp any](s *Server, topic string, fn func(ctx context.Context, req Req, clientID string) (Resp, error)) emitter.Handle {
	if s == nil {
		return emitter.Handle{}
	}
	return endpoint.Handle(s.e, topic, fn)
}

// ReplyLater, called by a handler with the ctx it was given, detaches its
// request: the handler's return values are ignored, and the returned func
// sends the reply (resp, or the failure err when not nil) once, from any
// goroutine; a second call returns an error and sends nothing. It panics
// when ctx is not a handler's context.
func ReplyLater(ctx context.Context) (reply func(resp any, err error) error) {
	return endpoint.ReplyLater(ctx)
}
