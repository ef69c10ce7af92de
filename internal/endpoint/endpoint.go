// Package endpoint is the core that a Server and a Client share: the event
// loop and the emitter behind it, how errors are emitted (and folded), the
// delivery of incoming frames as message events, the once-only start, and
// the close sequence (stop, wait for the connections, "closed", "close",
// end of the loop). The server and client packages add only what differs:
// accepting many clients, or connecting and reconnecting to one server.
package endpoint

import (
	"context"
	"errors"
	"fmt"
	"github.com/socketipc/socketipc/internal/errtext"
	"log/slog"
	"net"
	"reflect"
	"sync"
	"time"

	"github.com/socketipc/socketipc/emitter"
	"github.com/socketipc/socketipc/internal/conn"
	"github.com/socketipc/socketipc/internal/errfold"
	"github.com/socketipc/socketipc/internal/loop"
	"github.com/socketipc/socketipc/message"
)

// Options are what both ends configure alike.
type Options struct {
	// Conn holds the connection settings of the owner's Options; New fills
	// its zero fields with the defaults (conn.Config.SetDefaults).
	Conn   conn.Config
	Logger *slog.Logger
	// Events declares the owner's events, so that a listener that can never
	// receive one, or a misspelt event name, panics at registration.
	Events []emitter.Event
	// WithClientID: message events carry the sender's client id (a server).
	WithClientID bool
}

// Endpoint is the shared core of one Server or Client.
type Endpoint struct {
	em     *emitter.Emitter
	loop   *loop.Loop
	errors errfold.Folder
	inline conn.InlineGate
	base   conn.Config
	withID bool
	typed  typedHints
	stats  stats // see stats.go

	// current is the message being delivered, set on the loop only;
	// currentConn its connection, while a request handler runs.
	current     *conn.Msg
	currentConn *conn.Conn
	reqs        requests
	// anyMessage: the "message" event has listeners, as of the emitter's
	// generation anyGen-1 (0: not known); on the loop only.
	anyMessage bool
	anyGen     uint64

	mu        sync.Mutex
	started   bool
	closed    bool
	closing   chan struct{}
	closeDone chan struct{}
	endOnce   sync.Once
}

// New returns an Endpoint whose loop starts with its first event.
func New(opts Options) *Endpoint {
	opts.Conn.SetDefaults()
	return &Endpoint{
		em:        emitter.New(emitter.Options{Logger: opts.Logger, Events: opts.Events}),
		loop:      loop.New(),
		base:      opts.Conn,
		withID:    opts.WithClientID,
		stats:     stats{log: opts.Logger},
		closing:   make(chan struct{}),
		closeDone: make(chan struct{}),
	}
}

// Emitter is the emitter listeners are registered with.
func (e *Endpoint) Emitter() *emitter.Emitter { return e.em }

// Settings are the connection settings, defaults filled in.
func (e *Endpoint) Settings() conn.Config { return e.base }

// Post delivers event on the loop, in order with every other event.
func (e *Endpoint) Post(event string, args ...any) {
	e.loop.Post(func() { e.em.Emit(event, args...) })
}

// Emit delivers an application's event: at once when called on the loop
// (from a listener, as Node's emit is synchronous), else queued on it.
func (e *Endpoint) Emit(event string, args ...any) {
	if e == nil {
		return
	}
	if e.loop.OnLoop() {
		e.em.Emit(event, args...)
		return
	}
	e.Post(event, args...)
}

// Do runs fn on the loop, after what is already queued, serially with
// listeners. Once the loop has ended (after Close), fn runs at once on
// the caller's goroutine.
func (e *Endpoint) Do(fn func()) {
	if e != nil && fn != nil {
		e.loop.Post(fn)
	}
}

// OnLoop reports whether the caller runs on the loop (inside a listener).
func (e *Endpoint) OnLoop() bool { return e.loop.OnLoop() }

// Fail emits err and returns it: every failing method does both. As the
// caller has the error, it is given to "error" listeners only, never
// logged. The event is folded into one of the same kind still waiting on
// the loop, if any (see errfold), so failures in a tight loop never queue
// events without bound; the caller always gets its own error.
func (e *Endpoint) Fail(err error) error {
	e.errors.Post(errfold.SendKey(err), err, e.loop.Post, e.emitReturned)
	return err
}

func (e *Endpoint) emitReturned(err error) {
	if e.em.ListenerCount(emitter.ErrorEvent) > 0 {
		e.em.Emit(emitter.ErrorEvent, err)
	}
}

// Report emits an error that no caller gets (a peer's bad frame, a failed
// accept): with no "error" listener, it goes to the logger.
func (e *Endpoint) Report(err error) { e.Post(emitter.ErrorEvent, err) }

// ReportFolded is Report for errors a peer can cause again and again,
// folded by key as Fail's are.
func (e *Endpoint) ReportFolded(key error, err error) {
	e.errors.Post(errfold.Key{Kind: key}, err, e.loop.Post, e.emitError)
}

func (e *Endpoint) emitError(err error) { e.em.Emit(emitter.ErrorEvent, err) }

// Lock and Unlock guard the start and close state, and whatever of the
// owner's state must change together with it (a server's clients).
func (e *Endpoint) Lock()   { e.mu.Lock() }
func (e *Endpoint) Unlock() { e.mu.Unlock() }

// ClosedLocked reports whether the close has begun; e is locked.
func (e *Endpoint) ClosedLocked() bool { return e.closed }

// Closed reports whether the close has begun.
func (e *Endpoint) Closed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}

// Closing is closed when the close begins.
func (e *Endpoint) Closing() <-chan struct{} { return e.closing }

// Start is the once-only guard of Listen and Connect: it fails (returning
// and emitting the error) after a close or a previous call.
func (e *Endpoint) Start(op string, errCalled, errClosed error) error {
	e.mu.Lock()
	var err error
	switch {
	case e.closed:
		err = errClosed
	case e.started:
		err = errCalled
	default:
		e.started = true
	}
	e.mu.Unlock()
	if err != nil {
		// Not under mu: after Close the error event runs at once, here,
		// and its listeners may call anything.
		return e.Fail(errtext.Wrap(op, err))
	}
	return nil
}

// Started reports whether Start succeeded once.
func (e *Endpoint) Started() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.started
}

// BeginClose marks the close begun and runs locked (with e locked) unless it
// had begun already; it reports whether this call began it.
func (e *Endpoint) BeginClose(locked func()) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.closed = true
	close(e.closing)
	if locked != nil {
		locked()
	}
	return true
}

// Finish completes a close: wait (the owner's, for its connections; it
// returns what could not be flushed) then "closed", "close" and the end
// of the loop. On the loop (Close called from a listener, perhaps on the
// very reader of a connection to wait for), it can't wait for itself: a
// goroutine finishes, the close event tells when, and Finish returns nil.
func (e *Endpoint) Finish(wait func() error) error {
	if e.loop.OnLoop() {
		go e.finish(wait, false)
		return nil
	}
	return e.finish(wait, true)
}

func (e *Endpoint) finish(wait func() error, returned bool) error {
	err := wait()
	if err != nil {
		if returned {
			e.Fail(err)
		} else {
			e.Report(err)
		}
	}
	e.End()
	<-e.loop.Done()
	return err
}

// End emits "closed" and "close" and stops the loop, once.
func (e *Endpoint) End() {
	e.endOnce.Do(func() {
		e.Post("closed")
		e.Post("close")
		e.loop.Stop()
		close(e.closeDone)
	})
}

// AwaitClose waits for a close begun elsewhere to end, unless called on the
// loop (the loop ends after the listener returns).
func (e *Endpoint) AwaitClose() {
	if e.loop.OnLoop() {
		return
	}
	<-e.closeDone
	<-e.loop.Done()
}

// Shutdown runs closeFn (the owner's Close) within ctx: if ctx ends first,
// abort drops what is left (the connections, unflushed), and the error
// wraps ctx.Err(). On the loop, Close can't wait; the bound still holds.
func (e *Endpoint) Shutdown(ctx context.Context, closeFn func() error, abort func()) error {
	if e.loop.OnLoop() {
		err := closeFn()
		go func() {
			select {
			case <-ctx.Done():
				abort()
			case <-e.closeDone:
			}
		}()
		return err
	}
	result := make(chan error, 1)
	go func() { result <- closeFn() }()
	select {
	case err := <-result:
		return err
	case <-ctx.Done():
		abort()
		err := <-result
		return errors.Join(errtext.Wrap("shutdown", ctx.Err()), err)
	}
}

// FlushError says how many queued bytes a close could not write, or is nil.
func (e *Endpoint) FlushError(unsent int) error {
	if unsent == 0 {
		return nil
	}
	return fmt.Errorf("socketipc: close: %d queued bytes were not written within the flush timeout (%v)", unsent, e.base.FlushTimeout)
}

// Hooks are what a connection reports to its owner beyond messages and
// errors, which the Endpoint handles.
type Hooks struct {
	ClientID string
	OnDrain  func(c *conn.Conn)
	OnClose  func(c *conn.Conn)
	Ended    func(c *conn.Conn)
	Exited   func()
}

// ConnConfig is the configuration of a new connection of this endpoint.
func (e *Endpoint) ConnConfig(h Hooks) conn.Config {
	cfg := e.base
	guard := new(conn.FrameGuard)
	var id any
	if e.withID {
		id = h.ClientID
	}
	cfg.ClientID = h.ClientID
	cfg.Loop = e.loop
	cfg.Inline = &e.inline
	cfg.DecodeType = e.decodeType
	cfg.OnMessages = func(c *conn.Conn, msgs []conn.Msg) { e.deliver(c, guard, msgs, id) }
	cfg.OnError = func(_ *conn.Conn, err error) { e.emitError(err) }
	cfg.OnDrain = h.OnDrain
	cfg.OnClose = h.OnClose
	cfg.Ended = e.ended(h.Ended)
	cfg.Exited = h.Exited
	return cfg
}

// deliver runs on the loop with one read's worth of a connection's frames.
// A run of malformed frames is one error event; a peer that sends too many
// is dropped, and nothing more of it is delivered.
func (e *Endpoint) deliver(c *conn.Conn, guard *conn.FrameGuard, msgs []conn.Msg, id any) {
	run := 0 // malformed frames just before msgs[i]
	for i := 0; i < len(msgs) && !guard.Rejected(); i++ {
		m := &msgs[i]
		if !m.Check(e.checkType) {
			n, err := conn.BadRun(msgs, i, run)
			run += n
			e.emitError(err)
			if err := guard.Bad(n, time.Now(), m.Err); err != nil {
				c.Reject()
				e.emitError(err)
			}
			i += n - 1
			continue
		}
		run = 0
		if t := m.Topic.Name; t != "" && t[0] == '$' && e.route(c, m, id) {
			m.Delivered()
			continue
		}
		e.current = m
		// Most applications listen to topics only: looking "message" up
		// for every message would find nothing at the cost of a hash.
		if g := emitter.Generation(e.em) + 1; g != e.anyGen {
			e.anyGen, e.anyMessage = g, e.em.ListenerCount("message") > 0
		}
		if e.withID {
			if e.anyMessage {
				e.em.Emit("message", m, m.Topic.Boxed, id)
			}
			e.em.Emit(m.Topic.Event, m, id)
		} else {
			if e.anyMessage {
				e.em.Emit("message", m, m.Topic.Boxed)
			}
			e.em.Emit(m.Topic.Event, m)
		}
		e.current = nil
		m.Delivered()
	}
}

// decodeType is the type the first listener of a message with topic t
// decodes its payload into, in the order deliver emits its events.
func (e *Endpoint) decodeType(t *conn.Topic) reflect.Type {
	g := emitter.Generation(e.em) + 1 // read first: a change after it is seen next time
	if t.DecodeHint.Gen == g {
		return t.DecodeHint.Type
	}
	ty := e.lookUpDecodeType(t)
	t.DecodeHint = conn.DecodeHint{Gen: g, Type: ty}
	return ty
}

// checkType is decodeType for the one delivering messages, which may run
// while the reader does: it keeps its answer in the topic's CheckHint.
func (e *Endpoint) checkType(t *conn.Topic) reflect.Type {
	g := emitter.Generation(e.em) + 1
	if t.CheckHint.Gen == g {
		return t.CheckHint.Type
	}
	ty := e.lookUpDecodeType(t)
	t.CheckHint = conn.DecodeHint{Gen: g, Type: ty}
	return ty
}

// lookUpDecodeType is decodeType without the topic's cache.
func (e *Endpoint) lookUpDecodeType(t *conn.Topic) reflect.Type {
	if ty := emitter.DecodeType(e.em, "message", 0); ty != nil {
		return ty
	}
	if ty := emitter.DecodeType(e.em, t.Event, 0); ty != nil {
		return ty
	}
	return e.typed.get(t.Event)
}

// Send encodes msg and queues it on the connection target returns (it runs
// with e locked; nil: none). noTarget is the error when there is none (no
// such client, not connected), onFull handles a full queue (nil: the error
// stands), and sendErr makes the returned error.
func (e *Endpoint) Send(target func() *conn.Conn, topic string, msg any, noTarget error, onFull func(*conn.Conn, error) error, sendErr func(error) error) error {
	e.mu.Lock()
	closed := e.closed
	var c *conn.Conn
	if !closed {
		c = target()
	}
	e.mu.Unlock()
	switch {
	case closed:
		return e.Fail(sendErr(message.ErrSendAfterClose))
	case c == nil:
		return e.Fail(sendErr(noTarget))
	}
	err := conn.EncodeSend(e.base.Transcoder, e.base.Framing, topic, msg, c)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, message.ErrConnectionClosed):
		err = &closingError{target: noTarget, closed: err}
	case errors.Is(err, message.ErrQueueFull) && onFull != nil:
		err = onFull(c, err)
	}
	return e.Fail(sendErr(err))
}

// EncodeFrame encodes one frame with the endpoint's transcoder and framing.
func (e *Endpoint) EncodeFrame(topic string, msg any, use func(frame []byte) error) error {
	return conn.EncodeFrame(e.base.Transcoder, e.base.Framing, topic, msg, use)
}

// AllowPeer asks allow (Options.AllowPeer, nil: every peer is allowed)
// about the process at the other end of nc; a refusal wraps errRefused and
// names the credentials.
func AllowPeer[C ~struct {
	PID int32
	UID uint32
	GID uint32
}](nc *net.UnixConn, allow func(C) error, errRefused error) error {
	if allow == nil {
		return nil
	}
	cred, err := conn.ReadPeerCred(nc)
	if err == nil {
		err = conn.AskAllowPeer(func(c conn.PeerCred) error { return allow(C(c)) }, cred)
	}
	if err != nil {
		return fmt.Errorf("%w (pid %d, uid %d, gid %d): %w", errRefused, cred.PID, cred.UID, cred.GID, err)
	}
	return nil
}

// CloseConn closes one connection gracefully, as Close does each: what was
// queued is written first, within the flush timeout. Off the loop it waits
// for the connection to end and returns an error for what could not be
// written; on the loop it can't wait (it may run on that connection's
// reader) and returns nil at once: the connection's end is reported as
// usual.
func (e *Endpoint) CloseConn(c *conn.Conn) error {
	c.Close()
	if e.loop.OnLoop() {
		return nil
	}
	<-c.Done()
	if err := e.FlushError(c.UnsentBytes()); err != nil {
		return e.Fail(err)
	}
	return nil
}

// The listener methods of a Server and a Client, safe on a nil Endpoint
// (a zero Server or Client): they register nothing there.

func (e *Endpoint) On(event string, fn any) emitter.Handle {
	if e == nil {
		return emitter.Handle{}
	}
	return e.em.On(event, fn)
}

func (e *Endpoint) Once(event string, fn any) emitter.Handle {
	if e == nil {
		return emitter.Handle{}
	}
	return e.em.Once(event, fn)
}

func (e *Endpoint) Prepend(event string, fn any) emitter.Handle {
	if e == nil {
		return emitter.Handle{}
	}
	return e.em.Prepend(event, fn)
}

func (e *Endpoint) PrependOnce(event string, fn any) emitter.Handle {
	if e == nil {
		return emitter.Handle{}
	}
	return e.em.PrependOnce(event, fn)
}

func (e *Endpoint) RemoveAllListeners(events ...string) {
	if e != nil {
		e.em.RemoveAllListeners(events...)
	}
}

func (e *Endpoint) ListenerCount(event string) int {
	if e == nil {
		return 0
	}
	return e.em.ListenerCount(event)
}

func (e *Endpoint) Listeners(event string) []any {
	if e == nil {
		return nil
	}
	return e.em.Listeners(event)
}

func (e *Endpoint) EventNames() []string {
	if e == nil {
		return nil
	}
	return e.em.EventNames()
}

// closingError is a send to a connection that is closing: it matches both
// the owner's "no target" error (ErrBadClient, ErrNoServer, as for one that
// is gone) and message.ErrConnectionClosed (as a Broadcast reports it).
type closingError struct{ target, closed error }

func (e *closingError) Error() string {
	return errtext.Prefix + "the connection is closing"
}

func (e *closingError) Unwrap() []error { return []error{e.target, e.closed} }
