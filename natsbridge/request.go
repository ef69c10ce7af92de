package natsbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
)

// The headers of requests and replies across NATS.
const (
	// HeaderTimeout, on a request, is the time in milliseconds the asker
	// waits; the answering bridge gives its local client no longer.
	HeaderTimeout = "Socketipc-Timeout"
	// HeaderError, on a reply, is the failure's text; the data is then empty.
	// For a failure the answering client sent, it is that failure's text
	// alone (message.RemoteError's Message), as it came.
	HeaderError = "Socketipc-Error"
	// HeaderErrorKind, on a failure reply, says what failed, so that the
	// asker returns the error a local Request would: "remote" (the client
	// answered with a failure, or had no handler), "bad-client" (no
	// connected client with that id), "queue-full", "interrupted" (its
	// connection ended first), "timeout" (the deadline passed on the
	// answering side); empty for the bridge's own failures.
	HeaderErrorKind = "Socketipc-Error-Kind"
)

// DefaultRequestTimeout bounds a request forwarded to NATS when
// Options.RequestTimeout is zero.
const DefaultRequestTimeout = 5 * time.Second

// ErrNoAnswerer is the failure of a request the answering bridge has no
// local client for (Options.Answerer returned "").
var ErrNoAnswerer = errors.New("natsbridge: no local client answers this topic")

// ErrClosed is the failure of a request that reached a bridge being closed.
var ErrClosed = errors.New("natsbridge: bridge closed")

// ErrNotBridged is the failure of Bridge.Request for a topic that is not
// one of the Options.Requests of the bridge (asking or answering).
var ErrNotBridged = errors.New("natsbridge: requests for this topic are not bridged")

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

// clientSubject is where requests for one client of whichever bridge has it
// are asked: two tokens longer than any topic's subject, one longer than any
// requestSubject. Client ids are random UUIDs, unique across Servers.
func (b *Bridge) clientSubject(clientID, topic string) string {
	return b.prefix + ".client." + EncodeTopic(clientID) + "." + EncodeTopic(topic)
}

// serveRequests sets up both halves for each of opts.Requests: local
// requests go out to NATS, and, with an Answerer, NATS requests come in.
// The requests for one local client by id (Bridge.Request of another
// bridge) come in on subscriptions per client, kept by reachClients.
func (b *Bridge) serveRequests(opts Options) error {
	if len(opts.Requests) == 0 {
		return nil
	}
	b.requests = make(map[string]bool, len(opts.Requests))
	for _, topic := range opts.Requests {
		if b.requests[topic] {
			continue
		}
		b.requests[topic] = true
		b.handles = append(b.handles, server.Handle(b.srv, topic, func(ctx context.Context, req json.RawMessage, clientID string) (json.RawMessage, error) {
			reply := server.ReplyLater(ctx)
			if !b.track(func() { _ = reply(b.ask(ctx, topic, req, clientID)) }) {
				_ = reply(nil, ErrClosed)
			}
			return nil, nil
		}))
		if opts.Answerer == nil || (len(opts.Answers) > 0 && !slices.Contains(opts.Answers, topic)) {
			continue
		}
		// Its own requests too: in a queue group, a request NATS gives this
		// bridge is given to no other.
		sub, err := b.nc.QueueSubscribe(b.requestSubject(topic), "socketipc", func(m *nats.Msg) {
			if m.Reply == "" {
				b.ignored.Add(1)
				return
			}
			b.track(func() { b.answer(topic, m, opts.Answerer(topic)) })
		})
		if err != nil {
			return fmt.Errorf("natsbridge: subscribe %q: %w", b.requestSubject(topic), err)
		}
		b.subs = append(b.subs, sub)
	}
	b.reachClients()
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
	setTimeout(ctx, m)
	resp, err := b.nc.RequestMsgWithContext(ctx, m)
	if err != nil {
		return nil, fmt.Errorf("natsbridge: request %q over NATS: %w", topic, err)
	}
	if text := resp.Header.Get(HeaderError); text != "" {
		return nil, errors.New(text)
	}
	return json.RawMessage(resp.Data), nil
}

func setTimeout(ctx context.Context, m *nats.Msg) {
	if dl, ok := ctx.Deadline(); ok {
		m.Header.Set(HeaderTimeout, strconv.FormatInt(max(time.Until(dl).Milliseconds(), 1), 10))
	}
}

// answer asks the local client to (none: ErrNoAnswerer) and replies on NATS.
func (b *Bridge) answer(topic string, m *nats.Msg, to string) {
	timeout := b.requestTimeout
	if ms, err := strconv.ParseInt(m.Header.Get(HeaderTimeout), 10, 64); err == nil && ms > 0 {
		timeout = time.Duration(ms) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	reply := nats.NewMsg(m.Reply)
	var resp json.RawMessage
	err := ErrNoAnswerer
	if to != "" {
		err = b.srv.Request(ctx, to, topic, json.RawMessage(m.Data), &resp)
	}
	if err != nil {
		kind, text := failure(err)
		if b.ctx.Err() != nil {
			kind, text = "interrupted", ErrClosed.Error()
		}
		reply.Header.Set(HeaderError, text)
		if kind != "" {
			reply.Header.Set(HeaderErrorKind, kind)
		}
	} else {
		reply.Data = resp
	}
	if err := m.RespondMsg(reply); err != nil {
		b.emit(fmt.Errorf("natsbridge: reply to %q: %w", topic, err))
	}
}

// failure is how a failed local Request travels back: its kind
// (HeaderErrorKind) and its text (HeaderError).
func failure(err error) (kind, text string) {
	var remote *message.RemoteError
	switch {
	case errors.As(err, &remote):
		return "remote", remote.Message
	case errors.Is(err, message.ErrBadClient):
		return "bad-client", err.Error()
	case errors.Is(err, message.ErrQueueFull):
		return "queue-full", err.Error()
	case errors.Is(err, message.ErrRequestInterrupted):
		return "interrupted", err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout", err.Error()
	}
	return "", err.Error()
}

// Request asks the client clientID of the Server behind another bridge (on
// the same NATS and Prefix; any bridge, this one included) the request for
// topic, and waits for the reply, which it decodes into reply (a non-nil
// pointer; nil ignores it). It is Server.Request across NATS, and fails the
// same ways: a *message.SendError matching message.ErrBadClient when no
// bridge has a connected client with that id, message.ErrQueueFull when
// that client's queue is full, a *message.RemoteError when the client
// answered with a failure (its handler's error, or no handler for topic:
// the same Message as locally), ctx's error when ctx ends first (also when
// the answering side's share of the deadline ran out), and an error
// matching message.ErrRequestInterrupted when the client's connection ended
// before the reply or this bridge is closed. The wait is bounded by ctx and
// Options.RequestTimeout; the answering bridge gives its client the time
// left (HeaderTimeout). topic must be one of this bridge's Options.Requests
// (else ErrNotBridged), and of the answering one's. msg is sent as JSON.
//
// A client is reachable from its connection until its connectionClose:
// its bridge subscribes for it before publishing anything it sends, so a
// bridge that got a client's message (HeaderClient) can ask it at once.
// Request waits for NATS: call it from a goroutine, not from a listener.
func (b *Bridge) Request(ctx context.Context, clientID, topic string, msg, reply any) error {
	err := b.request(ctx, clientID, topic, msg, reply)
	if err != nil {
		b.emit(err)
	}
	return err
}

func (b *Bridge) request(ctx context.Context, clientID, topic string, msg, reply any) error {
	op := "natsbridge: request " + strconv.Quote(topic) + " to client " + clientID
	if !b.requests[topic] {
		return fmt.Errorf("%s: %w", op, ErrNotBridged)
	}
	data, err := json.Marshal(msg)
	if err != nil {
		return &message.EncodeError{Topic: topic, Message: msg, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, b.requestTimeout)
	defer cancel()
	stop := context.AfterFunc(b.ctx, cancel)
	defer stop()
	m := nats.NewMsg(b.clientSubject(clientID, topic))
	m.Data = data
	m.Header.Set(HeaderOrigin, b.id)
	setTimeout(ctx, m)
	resp, err := b.nc.RequestMsgWithContext(ctx, m)
	switch {
	case b.ctx.Err() != nil:
		return fmt.Errorf("%s: %w: %w", op, ErrClosed, message.ErrRequestInterrupted)
	case errors.Is(err, nats.ErrNoResponders):
		return &message.SendError{Topic: topic, Message: msg, ClientID: clientID, Err: message.ErrBadClient}
	case err != nil:
		return fmt.Errorf("%s: over NATS: %w", op, err)
	}
	if text := resp.Header.Get(HeaderError); text != "" {
		switch resp.Header.Get(HeaderErrorKind) {
		case "remote":
			return &message.RemoteError{Topic: topic, Message: text}
		case "bad-client":
			return &message.SendError{Topic: topic, Message: msg, ClientID: clientID, Err: message.ErrBadClient}
		case "queue-full":
			return &message.SendError{Topic: topic, Message: msg, ClientID: clientID, Err: message.ErrQueueFull}
		case "interrupted":
			return fmt.Errorf("%s: %w (%s)", op, message.ErrRequestInterrupted, text)
		case "timeout":
			return fmt.Errorf("%s: %w (on the answering side)", op, context.DeadlineExceeded)
		}
		return &message.RemoteError{Topic: topic, Message: text}
	}
	if reply == nil || len(resp.Data) == 0 {
		return nil
	}
	if err := json.Unmarshal(resp.Data, reply); err != nil {
		return fmt.Errorf("%s: reply: %w", op, err)
	}
	return nil
}

// answerClient serves a request for one local client (clientSubject).
func (b *Bridge) answerClient(clientID string, m *nats.Msg) {
	if m.Reply == "" {
		b.ignored.Add(1)
		return
	}
	topic, err := DecodeTopic(m.Subject[strings.LastIndexByte(m.Subject, '.')+1:])
	if err != nil || !b.requests[topic] {
		reply := nats.NewMsg(m.Reply)
		reply.Header.Set(HeaderError, ErrNotBridged.Error())
		_ = m.RespondMsg(reply)
		return
	}
	if !b.track(func() { b.answer(topic, m, clientID) }) {
		reply := nats.NewMsg(m.Reply)
		reply.Header.Set(HeaderError, ErrClosed.Error())
		reply.Header.Set(HeaderErrorKind, "interrupted")
		_ = m.RespondMsg(reply)
	}
}
