package natsbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/socketipc/socketipc/server"
)

// The headers of requests and replies across NATS.
const (
	// HeaderTimeout, on a request, is the time in milliseconds the asker
	// waits; the answering bridge gives its local client no longer.
	HeaderTimeout = "Socketipc-Timeout"
	// HeaderError, on a reply, is the failure's text; the data is then empty.
	HeaderError = "Socketipc-Error"
)

// DefaultRequestTimeout bounds a request forwarded to NATS when
// Options.RequestTimeout is zero.
const DefaultRequestTimeout = 5 * time.Second

// ErrNoAnswerer is the failure of a request the answering bridge has no
// local client for (Options.Answerer returned "").
var ErrNoAnswerer = errors.New("natsbridge: no local client answers this topic")

// ErrClosed is the failure of a request that reached a bridge being closed.
var ErrClosed = errors.New("natsbridge: bridge closed")

// track runs fn on a goroutine Close waits for; after Close has begun it
// runs nothing and returns false.
func (b *Bridge) track(fn func()) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		fn()
	}()
	return true
}

// requestSubject is one token longer than any topic's subject, so the two
// never collide.
func (b *Bridge) requestSubject(topic string) string { return b.Subject(topic) + ".request" }

// serveRequests sets up both halves for each of opts.Requests: local
// requests go out to NATS, and, with an Answerer, NATS requests come in.
func (b *Bridge) serveRequests(opts Options) error {
	for _, topic := range opts.Requests {
		b.handles = append(b.handles, server.Handle(b.srv, topic, func(ctx context.Context, req json.RawMessage, clientID string) (json.RawMessage, error) {
			reply := server.ReplyLater(ctx)
			if !b.track(func() { _ = reply(b.ask(ctx, topic, req, clientID)) }) {
				_ = reply(nil, ErrClosed)
			}
			return nil, nil
		}))
		if opts.Answerer == nil {
			continue
		}
		sub, err := b.nc.QueueSubscribe(b.requestSubject(topic), "socketipc", func(m *nats.Msg) {
			if m.Header.Get(HeaderOrigin) == b.id || m.Reply == "" {
				b.ignored.Add(1)
				return
			}
			b.track(func() { b.answer(topic, m, opts.Answerer) })
		})
		if err != nil {
			return fmt.Errorf("natsbridge: subscribe %q: %w", b.requestSubject(topic), err)
		}
		b.subs = append(b.subs, sub)
	}
	return nil
}

// ask forwards a local client's request to NATS and waits for the reply.
func (b *Bridge) ask(ctx context.Context, topic string, req json.RawMessage, clientID string) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, b.requestTimeout)
	defer cancel()
	stop := context.AfterFunc(b.ctx, cancel)
	defer stop()
	m := nats.NewMsg(b.requestSubject(topic))
	m.Data = req
	m.Header.Set(HeaderOrigin, b.id)
	m.Header.Set(HeaderClient, clientID)
	if dl, ok := ctx.Deadline(); ok {
		m.Header.Set(HeaderTimeout, strconv.FormatInt(time.Until(dl).Milliseconds(), 10))
	}
	resp, err := b.nc.RequestMsgWithContext(ctx, m)
	if err != nil {
		return nil, fmt.Errorf("natsbridge: request %q over NATS: %w", topic, err)
	}
	if text := resp.Header.Get(HeaderError); text != "" {
		return nil, errors.New(text)
	}
	return json.RawMessage(resp.Data), nil
}

// answer asks the local client chosen by answerer and replies on NATS.
func (b *Bridge) answer(topic string, m *nats.Msg, answerer func(topic string) string) {
	timeout := b.requestTimeout
	if ms, err := strconv.ParseInt(m.Header.Get(HeaderTimeout), 10, 64); err == nil && ms > 0 {
		timeout = time.Duration(ms) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	reply := nats.NewMsg(m.Reply)
	var resp json.RawMessage
	err := ErrNoAnswerer
	if to := answerer(topic); to != "" {
		err = b.srv.Request(ctx, to, topic, json.RawMessage(m.Data), &resp)
	}
	if err != nil {
		reply.Header.Set(HeaderError, err.Error())
	} else {
		reply.Data = resp
	}
	if err := m.RespondMsg(reply); err != nil {
		b.emit(fmt.Errorf("natsbridge: reply to %q: %w", topic, err))
	}
}
