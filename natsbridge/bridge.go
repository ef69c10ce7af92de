// Package natsbridge forwards chosen socketipc topics between a local Server
// and a NATS connection, so that servers on several machines can share events.
//
// Local → NATS: every message a local client sends on a chosen topic is
// published on the subject Prefix + "." + EncodeTopic(topic), its JSON payload
// as the NATS message data, unchanged. NATS → local: every message on such a
// subject is broadcast to the local clients, or sent to one client when it
// carries the HeaderTo header. Each bridge marks what it publishes with its ID
// in HeaderOrigin and ignores messages that carry its own ID, so two bridges
// forwarding the same topic never echo each other's messages back and forth.
//
// The local event loop never waits for NATS: messages to publish go through a
// buffer of Options.MaxPending messages drained by one goroutine. A message
// that finds it full, or that NATS refuses (nats.go's own reconnect buffer
// full, connection closed), is dropped, counted in Stats.Dropped and reported
// on the Server's "error" event as an error matching ErrDropped. NATS core
// delivery is at most once: see docs/SCALING.md.
//
// ForClient bridges a Client the same way: what its server sends on the
// topics is published, and what NATS brings is sent to its server.
//
// Requests (Options.Requests) cross too, for a Server, both ways: a local
// client's Request is asked on NATS, and a bridge with Options.Answerer
// answers by asking one of its local clients; and Bridge.Request is the
// Server's own Request to a client of another bridge's Server, by its id
// (each bridge subscribes a subject per local client).
package natsbridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/emitter"
	"github.com/socketipc/socketipc/server"
)

// The NATS headers a bridge reads and writes.
const (
	// HeaderOrigin carries the ID of the bridge that published a message.
	HeaderOrigin = "Socketipc-Origin"
	// HeaderClient carries the id of the local client a message came from.
	HeaderClient = "Socketipc-Client"
	// HeaderTo, on a message published to NATS by anyone, names the one
	// local client it is for; without it the message is broadcast.
	HeaderTo = "Socketipc-To"
)

// DefaultPrefix is the subject prefix when Options.Prefix is empty.
const DefaultPrefix = "socketipc"

// DefaultMaxPending is the size of the publish buffer when
// Options.MaxPending is zero.
const DefaultMaxPending = 1024

var (
	// ErrDropped matches the errors reporting a message that was not
	// published: the publish buffer was full or NATS refused it.
	ErrDropped = errors.New("natsbridge: message not published")
	// ErrOptions matches the errors of bad Options.
	ErrOptions = errors.New("natsbridge: bad options")
)

// Options choose what a bridge forwards.
type Options struct {
	// Topics are the topics forwarded both ways. At least one is needed.
	Topics []string
	// Prefix is the first part of every subject: literal tokens, no
	// wildcards. Empty means DefaultPrefix.
	Prefix string
	// ID marks this bridge's messages (HeaderOrigin). Empty means a fresh
	// unique id; bridges sharing an ID would ignore each other.
	ID string
	// MaxPending bounds the messages waiting to be published. Zero means
	// DefaultMaxPending.
	MaxPending int

	// Requests are the topics whose requests cross NATS: a local client's
	// Request for one of them is handled by the bridge (server.Handle),
	// which asks NATS and relays the reply or failure; and Bridge.Request
	// of other bridges may ask the local clients for them by id.
	Requests []string
	// Answerer, when set, lets this bridge answer the requests for Requests
	// from other bridges: it names the local client to ask ("" fails the
	// request with ErrNoAnswerer). It runs on a bridge goroutine, not on the
	// event loop. One bridge of those with an Answerer answers each request
	// (a NATS queue group), this one included when its own local client
	// asked.
	Answerer func(topic string) (clientID string)
	// Answers, when not empty, are the topics of Requests this bridge
	// answers with Answerer; empty means all of them. A bridge whose
	// clients cannot answer a topic must leave it out: NATS gives each
	// request to one bridge of the group, which does not pass it on.
	Answers []string
	// RequestTimeout bounds each request sent to NATS; the answering side
	// gets the time left. Zero means DefaultRequestTimeout.
	RequestTimeout time.Duration
}

// Stats are a bridge's counters since it started.
type Stats struct {
	Published   uint64 // local messages handed to NATS
	Dropped     uint64 // local messages not published (ErrDropped)
	Delivered   uint64 // NATS messages the local Server or Client accepted
	Undelivered uint64 // NATS messages it refused (it reports why on "error")
	Ignored     uint64 // NATS messages skipped: our own, and on a Client those with HeaderTo
}

// Bridge forwards topics between one Server (or Client) and one NATS
// connection. Close it before closing either.
type Bridge struct {
	local
	nc     *nats.Conn
	id     string
	prefix string

	out     chan *nats.Msg
	stop    chan struct{}
	done    chan struct{}
	handle  emitter.Handle
	handles []emitter.Handle // request handlers
	subs    []*nats.Subscription
	closing sync.Once

	requestTimeout time.Duration
	ctx            context.Context // ends with Close: in-flight requests stop
	cancel         context.CancelFunc
	wg             sync.WaitGroup // request goroutines (track)
	mu             sync.Mutex     // guards closed, and wg.Add against Close's Wait
	closed         bool

	requests map[string]bool // Options.Requests; read-only once started
	// The local clients other bridges can ask (Bridge.Request): listeners
	// on the loop note connections in want and set dirty; the publishing
	// goroutine, which alone may wait for NATS, subscribes (clientSubs).
	wantMu     sync.Mutex
	want       map[string]bool
	dirty      atomic.Bool
	wake       chan struct{}
	clientSubs map[string]*nats.Subscription

	published, dropped, delivered, undelivered, ignored atomic.Uint64
}

// local is the socketipc side of a bridge: a Server or a Client.
type local struct {
	srv     *server.Server // nil for a Client: requests are bridged for a Server only
	on      func(forward func(topic string, raw json.RawMessage, clientID string)) emitter.Handle
	off     func(emitter.Handle) bool
	emit    func(error)
	deliver func(topic string, raw json.RawMessage, to string) error
}

// ForServer starts forwarding opts.Topics between srv and nc. nc is the
// caller's: the bridge never closes it.
func ForServer(srv *server.Server, nc *nats.Conn, opts Options) (*Bridge, error) {
	if srv == nil || nc == nil {
		return nil, fmt.Errorf("%w: nil Server or nats.Conn", ErrOptions)
	}
	return start(nc, opts, local{
		srv: srv,
		on: func(forward func(topic string, raw json.RawMessage, clientID string)) emitter.Handle {
			return srv.On(server.EventMessage, func(raw json.RawMessage, topic, clientID string) { forward(topic, raw, clientID) })
		},
		off:  srv.Off,
		emit: func(err error) { srv.Emit(server.EventError, err) },
		deliver: func(topic string, raw json.RawMessage, to string) error {
			if to != "" {
				return srv.Send(topic, raw, to)
			}
			return srv.Broadcast(topic, raw)
		},
	})
}

// ForClient starts forwarding opts.Topics between c and nc: the messages
// c's server sends on them are published, and the messages on their
// subjects are sent to the server (those with HeaderTo, meant for one
// client of a Server, are ignored). Options.Requests are not bridged for a
// Client. Do not bridge a topic on both a Server and one of its clients:
// what the client bridge sends becomes a new message of the Server's, with
// no origin, and would come back.
func ForClient(c *client.Client, nc *nats.Conn, opts Options) (*Bridge, error) {
	if c == nil || nc == nil {
		return nil, fmt.Errorf("%w: nil Client or nats.Conn", ErrOptions)
	}
	if len(opts.Requests) > 0 || opts.Answerer != nil {
		return nil, fmt.Errorf("%w: requests are bridged for a Server only", ErrOptions)
	}
	return start(nc, opts, local{
		on: func(forward func(topic string, raw json.RawMessage, clientID string)) emitter.Handle {
			return c.On(client.EventMessage, func(raw json.RawMessage, topic string) { forward(topic, raw, "") })
		},
		off:  c.Off,
		emit: func(err error) { c.Emit(client.EventError, err) },
		deliver: func(topic string, raw json.RawMessage, to string) error {
			if to != "" {
				return errForOneClient
			}
			return c.Send(topic, raw)
		},
	})
}

// errForOneClient makes a Client bridge ignore a message with HeaderTo.
var errForOneClient = errors.New("natsbridge: for one client of a Server")

func start(nc *nats.Conn, opts Options, loc local) (*Bridge, error) {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if !validPrefix(opts.Prefix) {
		return nil, fmt.Errorf("%w: prefix %q is not a literal NATS subject", ErrOptions, opts.Prefix)
	}
	if len(opts.Topics) == 0 && len(opts.Requests) == 0 {
		return nil, fmt.Errorf("%w: no topics", ErrOptions)
	}
	if opts.MaxPending < 0 {
		return nil, fmt.Errorf("%w: MaxPending %d", ErrOptions, opts.MaxPending)
	}
	if opts.MaxPending == 0 {
		opts.MaxPending = DefaultMaxPending
	}
	if opts.ID == "" {
		opts.ID = nuid.Next()
	}
	if len(opts.Answers) > 0 && opts.Answerer == nil {
		return nil, fmt.Errorf("%w: Answers without an Answerer", ErrOptions)
	}
	for _, t := range opts.Answers {
		if !slices.Contains(opts.Requests, t) {
			return nil, fmt.Errorf("%w: Answers topic %q is not one of Requests", ErrOptions, t)
		}
	}
	if opts.RequestTimeout < 0 {
		return nil, fmt.Errorf("%w: RequestTimeout %v", ErrOptions, opts.RequestTimeout)
	}
	if opts.RequestTimeout == 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	b := &Bridge{
		local: loc, nc: nc, id: opts.ID, prefix: opts.Prefix,
		out:  make(chan *nats.Msg, opts.MaxPending),
		stop: make(chan struct{}),
		done: make(chan struct{}),
		wake: make(chan struct{}, 1),

		requestTimeout: opts.RequestTimeout,
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	topics := make(map[string]bool, len(opts.Topics))
	for _, t := range opts.Topics {
		if topics[t] {
			continue
		}
		topics[t] = true
		topic := t
		sub, err := nc.Subscribe(b.Subject(topic), func(m *nats.Msg) { b.fromNATS(topic, m) })
		if err != nil {
			b.unsubscribe()
			b.cancel()
			return nil, fmt.Errorf("natsbridge: subscribe %q: %w", b.Subject(topic), err)
		}
		b.subs = append(b.subs, sub)
	}
	if err := b.serveRequests(opts); err != nil {
		b.removeHandlers()
		b.unsubscribe()
		for _, s := range b.clientSubs {
			_ = s.Unsubscribe()
		}
		b.cancel()
		return nil, err
	}
	go b.publish()
	b.handle = loc.on(func(topic string, raw json.RawMessage, clientID string) {
		if topics[topic] {
			b.toNATS(topic, raw, clientID)
		}
	})
	return b, nil
}

// ID is the bridge's id, sent in HeaderOrigin.
func (b *Bridge) ID() string { return b.id }

// Subject is the NATS subject topic is forwarded on.
func (b *Bridge) Subject(topic string) string { return b.prefix + "." + EncodeTopic(topic) }

// Stats returns the bridge's counters.
func (b *Bridge) Stats() Stats {
	return Stats{
		Published:   b.published.Load(),
		Dropped:     b.dropped.Load(),
		Delivered:   b.delivered.Load(),
		Undelivered: b.undelivered.Load(),
		Ignored:     b.ignored.Load(),
	}
}

// Close stops forwarding: it removes the bridge's listener and
// subscriptions, and hands NATS what was waiting to be published.
// It does not close the Server or the NATS connection.
func (b *Bridge) Close() error {
	b.closing.Do(func() {
		b.off(b.handle)
		b.removeHandlers()
		b.unsubscribe()
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
		b.cancel()
		b.wg.Wait()
		close(b.stop)
		<-b.done
		for _, s := range b.clientSubs {
			_ = s.Unsubscribe()
		}
	})
	return nil
}

func (b *Bridge) removeHandlers() {
	for _, h := range b.handles {
		b.off(h)
	}
}

func (b *Bridge) unsubscribe() {
	for _, s := range b.subs {
		_ = s.Unsubscribe()
	}
}

// toNATS runs on the local event loop: it must never wait for NATS.
func (b *Bridge) toNATS(topic string, raw json.RawMessage, clientID string) {
	m := nats.NewMsg(b.Subject(topic))
	m.Data = bytes.Clone(raw) // the loop may reuse raw once we return
	m.Header.Set(HeaderOrigin, b.id)
	if clientID != "" {
		m.Header.Set(HeaderClient, clientID)
	}
	select {
	case <-b.stop:
		return
	case b.out <- m:
	default:
		n := b.dropped.Add(1)
		b.emit(fmt.Errorf("%w: topic %q: publish buffer full (%d dropped in all)", ErrDropped, topic, n))
	}
}

// publish owns b.out's receiving end; it ends with Close.
func (b *Bridge) publish() {
	defer close(b.done)
	send := func(m *nats.Msg) {
		b.subscribeClients() // before what a client that just connected sends
		if err := b.nc.PublishMsg(m); err != nil {
			n := b.dropped.Add(1)
			b.emit(fmt.Errorf("%w: subject %q (%d dropped in all): %w", ErrDropped, m.Subject, n, err))
			return
		}
		b.published.Add(1)
	}
	for {
		select {
		case m := <-b.out:
			send(m)
		case <-b.wake:
			b.subscribeClients()
		case <-b.stop:
			for {
				select {
				case m := <-b.out:
					send(m)
				default:
					return
				}
			}
		}
	}
}

// fromNATS runs on the subscription's goroutine; Broadcast and Send queue
// without waiting.
func (b *Bridge) fromNATS(topic string, m *nats.Msg) {
	if m.Header.Get(HeaderOrigin) == b.id {
		b.ignored.Add(1)
		return
	}
	err := b.deliver(topic, json.RawMessage(m.Data), m.Header.Get(HeaderTo))
	if errors.Is(err, errForOneClient) {
		b.ignored.Add(1)
		return
	}
	if err != nil {
		b.undelivered.Add(1)
		return
	}
	b.delivered.Add(1)
}

// reachClients makes the local clients reachable by their ids
// (clientSubject): those connected now at once, the others as they come.
func (b *Bridge) reachClients() {
	b.want = make(map[string]bool)
	b.clientSubs = make(map[string]*nats.Subscription)
	b.handles = append(b.handles,
		b.srv.On(server.EventConnection, func(id string) { b.wantClient(id, true) }),
		b.srv.On(server.EventConnectionClose, func(id string) { b.wantClient(id, false) }))
	// A client that closes meanwhile may keep its subscription until the
	// next change: requests for it fail as for any unknown id.
	for _, id := range b.srv.ClientIDs() {
		b.wantClient(id, true)
	}
	b.subscribeClients()
}

// wantClient runs on the local event loop: it must never wait for NATS.
func (b *Bridge) wantClient(id string, connected bool) {
	b.wantMu.Lock()
	if connected {
		b.want[id] = true
	} else {
		delete(b.want, id)
	}
	b.wantMu.Unlock()
	b.dirty.Store(true)
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// subscribeClients brings the per-client subscriptions in line with want;
// only the publishing goroutine calls it (and start, before it runs).
func (b *Bridge) subscribeClients() {
	if !b.dirty.Load() || !b.dirty.Swap(false) { // a read first: this runs before every publish
		return
	}
	var add, remove []string
	b.wantMu.Lock()
	for id := range b.want {
		if b.clientSubs[id] == nil {
			add = append(add, id)
		}
	}
	for id := range b.clientSubs {
		if !b.want[id] {
			remove = append(remove, id)
		}
	}
	b.wantMu.Unlock()
	for _, id := range remove {
		// Drain, not Unsubscribe: a request NATS routed here before the
		// server saw the interest go is still answered (unknown client),
		// instead of dropped and left to its asker's deadline.
		_ = b.clientSubs[id].Drain()
		delete(b.clientSubs, id)
	}
	for _, id := range add {
		clientID := id
		subject := b.prefix + ".client." + EncodeTopic(clientID) + ".*"
		sub, err := b.nc.Subscribe(subject, func(m *nats.Msg) { b.answerClient(clientID, m) })
		if err != nil {
			// Tried again at the next connection or close.
			b.emit(fmt.Errorf("natsbridge: subscribe %q: %w", subject, err))
			continue
		}
		b.clientSubs[clientID] = sub
	}
}
