// Package client is the connecting side of socketipc: a Client connects to a
// server's Unix socket file, retries until it can, reconnects when the
// connection drops, and exchanges messages with the server, reporting
// everything through events named as in the Node package socket-ipc
// ("connect", "reconnect", "connectError", "disconnect", "message",
// "message.<topic>", "error", "close", ...).
//
// Events are delivered one at a time, in order, on one goroutine per Client;
// see the emitter package for how listeners are declared and called.
package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"sync"
	"time"

	"github.com/socketipc/socketipc/backoff"
	"github.com/socketipc/socketipc/emitter"
	"github.com/socketipc/socketipc/internal/conn"
	"github.com/socketipc/socketipc/internal/errfold"
	"github.com/socketipc/socketipc/internal/loop"
	"github.com/socketipc/socketipc/internal/socketfile"
	"github.com/socketipc/socketipc/message"
)

// Conn is the client's connection to the server, passed with "connect" and
// "reconnect": the server's credentials, the send queue, and Done.
type Conn = conn.Conn

// PeerCred identifies the process at the other end of a connection: pid,
// effective uid and gid, as the kernel recorded them when the connection was
// made (Linux and OpenBSD SO_PEERCRED; darwin and FreeBSD LOCAL_PEERCRED, with
// LOCAL_PEERPID for darwin's pid; NetBSD LOCAL_PEEREID). Other systems, Windows
// among them, have none: reading them fails with errors.ErrUnsupported.
type PeerCred = conn.PeerCred

// Defaults of Options' zero fields.
const (
	DefaultRetryDelay     = time.Second            // Node's default
	DefaultReconnectDelay = 100 * time.Millisecond // the value Node documents
	DefaultMaxFrameSize   = message.DefaultMaxFrameSize
	DefaultMaxQueueBytes  = conn.DefaultMaxQueueBytes
	DefaultFlushTimeout   = conn.DefaultFlushTimeout
)

var (
	// ErrInvalidSocketFile is wrapped by New's error for an unusable SocketFile.
	ErrInvalidSocketFile = socketfile.ErrInvalid
	// ErrConnectCalled: Connect was already called on this Client.
	ErrConnectCalled = errors.New("socketipc: Connect already called")
	// ErrClientClosed: the Client was closed.
	ErrClientClosed = errors.New("socketipc: client closed")
	// ErrGaveUp: a delay policy returned backoff.Stop, so the client stopped
	// trying; the error also wraps the last connection error, if any.
	ErrGaveUp = errors.New("socketipc: client gave up connecting")
	// ErrPeerRefused: Options.AllowPeer refused the server it reached.
	ErrPeerRefused = errors.New("socketipc: server refused by AllowPeer")
)

// Options configure a Client. Only SocketFile is required; every zero field
// means the documented default.
type Options struct {
	// SocketFile is the server's socket file. Empty, all-digit (it looks
	// like a port) and over-long paths are rejected by New.
	SocketFile string
	// RetryDelay is the wait after each failed connection attempt, first
	// connect and reconnects alike. Nil: a constant 1 s.
	RetryDelay backoff.BackOff
	// ReconnectDelay is the wait after a connection drops, before the first
	// attempt to reconnect. Nil: a constant 100 ms.
	ReconnectDelay backoff.BackOff
	// Transcoder encodes and decodes messages; nil means message.JSON.
	Transcoder message.Transcoder
	// Framing is the frame delimiter; the zero value is "\x00\x00".
	Framing message.Framing
	// MaxFrameSize limits an incoming frame (delimiter not counted); a larger
	// one is an error and drops the connection (then a reconnect). Zero: 16 MiB.
	MaxFrameSize int
	// MaxQueueBytes limits the send queue; a Send that does not fit fails
	// with message.ErrQueueFull. Zero: 64 MiB.
	MaxQueueBytes int
	// FlushTimeout bounds how long Close waits for queued messages to be
	// written and the server to end its side. Zero: 5 s.
	FlushTimeout time.Duration
	// AllowPeer, when set, is asked about each connection the client makes,
	// with the credentials of the process that accepted it (the server), before
	// "connect"; an error refuses that server: the connection is closed at
	// once, the error (wrapped with ErrPeerRefused) is emitted as
	// "connectError", and the client retries after RetryDelay as after any
	// failed attempt. Use it to make sure a socket file in a shared folder is
	// served by the expected user. It runs on the connecting goroutine, not
	// with the events; a panic in it refuses the server and is reported in
	// that error. Peer credentials exist on Linux, darwin, FreeBSD, OpenBSD
	// and NetBSD (see PeerCred); elsewhere (Windows) every server is refused,
	// with an error matching errors.ErrUnsupported.
	AllowPeer func(cred PeerCred) error
	// Logger receives error events that have no listener. Nil: slog.Default().
	Logger *slog.Logger
}

// Client is a socketipc client. Create it with New.
type Client struct {
	*emitter.Emitter
	opts Options
	loop *loop.Loop
	// errors folds the error events of failing calls (see fail).
	errors errfold.Folder

	mu            sync.Mutex
	current       *conn.Conn // the connection Send uses, nil while not connected
	connectCalled bool
	closed        bool
	closing       chan struct{}
	cancelDial    context.CancelFunc
	dialCtx       context.Context
	runDone       chan struct{}
	closeDone     chan struct{}
	shutdownOnce  sync.Once
	inline        conn.InlineGate
}

// New checks the options and returns a Client that is not yet connecting.
func New(opts Options) (*Client, error) {
	if err := socketfile.Validate(opts.SocketFile); err != nil {
		return nil, err
	}
	if opts.Transcoder == nil {
		opts.Transcoder = message.JSON
	}
	if opts.RetryDelay == nil {
		opts.RetryDelay = backoff.Constant(DefaultRetryDelay)
	}
	if opts.ReconnectDelay == nil {
		opts.ReconnectDelay = backoff.Constant(DefaultReconnectDelay)
	}
	if opts.FlushTimeout <= 0 {
		opts.FlushTimeout = DefaultFlushTimeout
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Client{
		Emitter:    emitter.New(emitter.Options{Logger: opts.Logger}),
		opts:       opts,
		loop:       loop.New(),
		closing:    make(chan struct{}),
		dialCtx:    ctx,
		cancelDial: cancel,
		runDone:    make(chan struct{}),
		closeDone:  make(chan struct{}),
	}, nil
}

// SocketFile is the path the client connects to.
func (c *Client) SocketFile() string { return c.opts.SocketFile }

func (c *Client) emit(event string, args ...any) {
	c.loop.Post(func() { c.Emit(event, args...) })
}

// fail emits err and returns it: every failing method does both. The
// event is folded into one of the same kind still waiting on the loop, if
// any (see errfold), so failures in a tight loop never queue events
// without bound; the caller always gets its own error.
func (c *Client) fail(err error) error {
	c.errors.Post(errfold.SendKey(err), err, c.loop.Post, c.emitError)
	return err
}

func (c *Client) emitError(err error) { c.Emit("error", err) }

// Connect starts connecting in the background and returns at once. Failed
// attempts emit "connectError" and are retried after RetryDelay until one
// succeeds ("connect") or Close is called. It may be called once.
func (c *Client) Connect() error {
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return c.fail(fmt.Errorf("socketipc: connect: %w", ErrClientClosed))
	case c.connectCalled:
		c.mu.Unlock()
		return c.fail(fmt.Errorf("socketipc: connect: %w", ErrConnectCalled))
	}
	c.connectCalled = true
	c.mu.Unlock()
	go c.run()
	return nil
}

// run owns the connection: it dials, retries, waits for the connection to
// end and reconnects, until Close or a policy's Stop.
func (c *Client) run() {
	defer close(c.runDone)
	c.opts.RetryDelay.Reset()
	c.opts.ReconnectDelay.Reset()
	reconnecting := false
	var dialer net.Dialer
	for {
		nc, err := dialer.DialContext(c.dialCtx, "unix", c.opts.SocketFile)
		if err != nil {
			if c.isClosing() {
				return
			}
			c.emit("connectError", err)
			if !c.wait(c.opts.RetryDelay, err) {
				return
			}
			continue
		}
		if err := c.allowPeer(nc.(*net.UnixConn)); err != nil {
			nc.Close()
			if c.isClosing() {
				return
			}
			c.emit("connectError", err)
			if !c.wait(c.opts.RetryDelay, err) {
				return
			}
			continue
		}
		cur := c.start(nc.(*net.UnixConn))
		if cur == nil {
			return
		}
		c.emit("connect", cur)
		if reconnecting {
			c.emit("reconnect", cur)
		}
		c.opts.RetryDelay.Reset()
		c.opts.ReconnectDelay.Reset()
		cur.Run()

		select {
		case <-cur.Done():
		case <-c.closing:
			cur.Close()
			<-cur.Done()
			return
		}
		c.mu.Lock()
		if c.current == cur {
			c.current = nil
		}
		c.mu.Unlock()
		if c.isClosing() {
			return
		}
		c.emit("disconnect")
		reconnecting = true
		if !c.wait(c.opts.ReconnectDelay, nil) {
			return
		}
	}
}

// allowPeer asks Options.AllowPeer about the server at the other end of nc.
func (c *Client) allowPeer(nc *net.UnixConn) error {
	if c.opts.AllowPeer == nil {
		return nil
	}
	cred, err := conn.ReadPeerCred(nc)
	if err == nil {
		err = conn.AskAllowPeer(c.opts.AllowPeer, cred)
	}
	if err != nil {
		return fmt.Errorf("%w (pid %d, uid %d, gid %d): %w", ErrPeerRefused, cred.PID, cred.UID, cred.GID, err)
	}
	return nil
}

// start makes the connection current, unless Close came first.
func (c *Client) start(nc *net.UnixConn) *conn.Conn {
	guard := new(conn.FrameGuard)
	cur := conn.New(nc, conn.Config{
		Transcoder:    c.opts.Transcoder,
		Framing:       c.opts.Framing,
		MaxFrameSize:  c.opts.MaxFrameSize,
		MaxQueueBytes: c.opts.MaxQueueBytes,
		FlushTimeout:  c.opts.FlushTimeout,
		Loop:          c.loop,
		Inline:        &c.inline,
		DecodeType:    c.decodeType,
		OnMessages:    func(cur *conn.Conn, msgs []conn.Msg) { c.deliver(cur, guard, msgs) },
		OnError:       func(_ *conn.Conn, err error) { c.Emit("error", err) },
		OnDrain:       func(*conn.Conn) { c.Emit("drain") },
		Ended: func(ended *conn.Conn) {
			c.mu.Lock()
			if c.current == ended {
				c.current = nil
			}
			c.mu.Unlock()
		},
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		nc.Close()
		return nil
	}
	c.current = cur
	return cur
}

// wait sleeps for the policy's next delay; false means stop (Close, or the
// policy gave up, in which case the client shuts down).
func (c *Client) wait(policy backoff.BackOff, lastErr error) bool {
	d := policy.NextBackOff()
	if d == backoff.Stop {
		err := ErrGaveUp
		if lastErr != nil {
			err = fmt.Errorf("%w: %w", ErrGaveUp, lastErr)
		}
		c.mu.Lock()
		closedByUser := c.closed
		c.closed = true
		c.mu.Unlock()
		if closedByUser {
			return false // Close got there first and does the shutdown
		}
		c.emit("error", err)
		c.shutdown()
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.closing:
		return false
	}
}

func (c *Client) isClosing() bool {
	select {
	case <-c.closing:
		return true
	default:
		return false
	}
}

// deliver runs on the loop with one read's worth of frames. A run of
// malformed frames is one error event; a server that sends too many is
// dropped (the client reconnects), and nothing more of it is delivered.
func (c *Client) deliver(cur *conn.Conn, guard *conn.FrameGuard, msgs []conn.Msg) {
	run := 0 // malformed frames just before msgs[i]
	for i := 0; i < len(msgs) && !guard.Rejected(); i++ {
		m := &msgs[i]
		if m.Err != nil {
			n, err := conn.BadRun(msgs, i, run)
			run += n
			c.Emit("error", err)
			if err := guard.Bad(n, time.Now(), m.Err); err != nil {
				cur.Reject()
				c.Emit("error", err)
			}
			i += n - 1
			continue
		}
		run = 0
		c.Emit("message", m, m.Topic.Boxed)
		c.Emit(m.Topic.Event, m)
		m.Delivered()
	}
}

// decodeType is the type the first listener of a message with topic t
// decodes its payload into, in the order deliver emits its events.
func (c *Client) decodeType(t *conn.Topic) reflect.Type {
	if ty := emitter.DecodeType(c.Emitter, "message", 0); ty != nil {
		return ty
	}
	return emitter.DecodeType(c.Emitter, t.Event, 0)
}

// Conn is the live connection, or nil.
func (c *Client) Conn() *Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current
}

// Send queues msg under topic for the server. It fails (returning and
// emitting a *message.SendError) after Close (message.ErrSendAfterClose),
// while not connected (message.ErrNoServer), for a message that can't be
// encoded (*message.EncodeError) and when the queue is full
// (message.ErrQueueFull). A nil return means the frame will be written
// before the connection closes, Close included.
func (c *Client) Send(topic string, msg any) error {
	c.mu.Lock()
	closed, cur := c.closed, c.current
	c.mu.Unlock()
	sendErr := func(err error) error {
		return c.fail(&message.SendError{Topic: topic, Message: msg, Err: err})
	}
	switch {
	case closed:
		return sendErr(message.ErrSendAfterClose)
	case cur == nil:
		return sendErr(message.ErrNoServer)
	}
	err := conn.EncodeFrame(c.opts.Transcoder, c.opts.Framing, topic, msg, cur.Enqueue)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, message.ErrConnectionClosed):
		return sendErr(fmt.Errorf("%w: the connection is closing", message.ErrNoServer))
	}
	return sendErr(err)
}

// Close stops retrying and reconnecting and ends the connection gracefully:
// what was queued is written first, within FlushTimeout. It returns when
// the connection is closed and "closed" and "close" have been delivered (at
// once when there was no connection); an error says how much could not be
// flushed. Close may be called more than once. Called from a listener, it
// starts all of that and returns at once (it can't wait for the very
// listener it runs in); the close event says when it is done.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		c.awaitClose()
		return nil
	}
	c.closed = true
	started := c.connectCalled
	// Only the connection live now is Close's to flush: what a connection
	// that already dropped lost is not a flush failure of this Close.
	active := c.current
	c.mu.Unlock()
	close(c.closing)
	c.cancelDial()
	if c.loop.OnLoop() {
		// Inside a listener, perhaps on the connection's own reader: the
		// connection can't end while we wait for it here. A goroutine
		// finishes the close; the close event tells when.
		go c.finishClose(started, active)
		return nil
	}
	return c.finishClose(started, active)
}

// finishClose waits for the connection to end, reports what could not be
// flushed, delivers closed and close, and ends the loop.
func (c *Client) finishClose(started bool, active *conn.Conn) error {
	if started {
		<-c.runDone
	}
	c.mu.Lock()
	c.current = nil
	c.mu.Unlock()
	var err error
	if active != nil {
		if n := active.UnsentBytes(); n > 0 {
			err = fmt.Errorf("socketipc: close: %d queued bytes were not written within the flush timeout (%v)", n, c.opts.FlushTimeout)
			c.emit("error", err)
		}
	}
	c.shutdown()
	<-c.loop.Done()
	return err
}

// shutdown emits the closing events and stops the loop, once.
func (c *Client) shutdown() {
	c.shutdownOnce.Do(func() {
		c.emit("closed")
		c.emit("close")
		c.loop.Stop()
		close(c.closeDone)
	})
}

func (c *Client) awaitClose() {
	if c.loop.OnLoop() {
		return
	}
	<-c.closeDone
	<-c.loop.Done()
}
