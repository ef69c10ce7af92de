package client

import (
	"context"
	"errors"
	"github.com/socketipc/socketipc/internal/errtext"
	"log/slog"
	"time"

	"github.com/socketipc/socketipc/backoff"
	"github.com/socketipc/socketipc/internal/conn"
	"github.com/socketipc/socketipc/internal/endpoint"
	"github.com/socketipc/socketipc/internal/socketfile"
	"github.com/socketipc/socketipc/message"
)

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
	// ErrNotCreated: the Client was not made by New (a zero Client{}).
	ErrNotCreated = errors.New("socketipc: client not created with client.New")
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

// Client is a socketipc client. Create it with New; the zero Client is not
// usable (its methods fail with ErrNotCreated, and register nothing).
type Client struct {
	e    *endpoint.Endpoint
	opts Options

	// guarded by e's lock, with its close state
	current   *Conn         // the connection Send uses, nil while not connected
	connected chan struct{} // closed at the next connect, then replaced

	dialCtx    context.Context
	cancelDial context.CancelFunc
	runDone    chan struct{}
}

// New checks the options and returns a Client that is not yet connecting.
func New(opts Options) (*Client, error) {
	if err := socketfile.Validate(opts.SocketFile); err != nil {
		return nil, err
	}
	if opts.RetryDelay == nil {
		opts.RetryDelay = backoff.Constant(DefaultRetryDelay)
	}
	if opts.ReconnectDelay == nil {
		opts.ReconnectDelay = backoff.Constant(DefaultReconnectDelay)
	}
	e := endpoint.New(endpoint.Options{
		Conn: conn.Config{
			Transcoder:    opts.Transcoder,
			Framing:       opts.Framing,
			MaxFrameSize:  opts.MaxFrameSize,
			MaxQueueBytes: opts.MaxQueueBytes,
			FlushTimeout:  opts.FlushTimeout,
		},
		Logger: opts.Logger,
		Events: events,
	})
	ctx, cancel := context.WithCancel(context.Background())
	return &Client{
		e:          e,
		opts:       opts,
		connected:  make(chan struct{}),
		dialCtx:    ctx,
		cancelDial: cancel,
		runDone:    make(chan struct{}),
	}, nil
}

// core returns the client's core, or ErrNotCreated for a zero Client.
func (c *Client) core() (*endpoint.Endpoint, error) {
	if c == nil || c.e == nil {
		return nil, ErrNotCreated
	}
	return c.e, nil
}

// SocketFile is the path the client connects to.
func (c *Client) SocketFile() string { return c.opts.SocketFile }

// Connect starts connecting in the background and returns at once. Failed
// attempts emit "connectError" and are retried after RetryDelay until one
// succeeds ("connect") or Close is called. It may be called once.
func (c *Client) Connect() error {
	e, err := c.core()
	if err != nil {
		return err
	}
	if err := e.Start("connect", ErrConnectCalled, ErrClientClosed); err != nil {
		return err
	}
	go c.run()
	return nil
}

// Conn is the live connection, or nil.
func (c *Client) Conn() *Conn {
	e, err := c.core()
	if err != nil {
		return nil
	}
	e.Lock()
	defer e.Unlock()
	return c.current
}

// WaitConnected waits until the client is connected: it returns nil at
// once if it is, else at the next "connect" (the connection is then the
// one Send uses). It returns ctx.Err() if ctx ends first, and an error
// matching ErrClientClosed once the client is closed (or gave up).
func (c *Client) WaitConnected(ctx context.Context) error {
	e, err := c.core()
	if err != nil {
		return err
	}
	e.Lock()
	current, connected, closed := c.current, c.connected, e.ClosedLocked()
	e.Unlock()
	switch {
	case closed:
		return errtext.Wrap("wait connected", ErrClientClosed)
	case current != nil:
		return nil
	}
	select {
	case <-connected:
		return nil
	case <-e.Closing():
		return errtext.Wrap("wait connected", ErrClientClosed)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Send queues msg under topic for the server. It fails (returning and
// emitting a *message.SendError) after Close (message.ErrSendAfterClose),
// while not connected (message.ErrNoServer), for a message that can't be
// encoded (*message.EncodeError) and when the queue is full
// (message.ErrQueueFull). A nil return means the frame will be written
// before the connection closes, Close included.
func (c *Client) Send(topic string, msg any) error {
	e, err := c.core()
	if err != nil {
		return err
	}
	return e.Send(c.currentConn, topic, msg, message.ErrNoServer, nil, func(err error) error {
		return &message.SendError{Topic: topic, Message: msg, Err: err}
	})
}

// currentConn is the connection Send uses, or nil; e is locked.
func (c *Client) currentConn() *conn.Conn {
	if c.current == nil {
		return nil
	}
	return c.current.c
}

// Close stops retrying and reconnecting and ends the connection gracefully:
// what was queued is written first, within FlushTimeout. It returns when
// the connection is closed and "closed" and "close" have been delivered (at
// once when there was no connection); an error says how much could not be
// flushed. Close may be called more than once. Called from a listener, it
// starts all of that and returns at once (it can't wait for the very
// listener it runs in); the close event says when it is done.
func (c *Client) Close() error {
	e, err := c.core()
	if err != nil {
		return err
	}
	// Only the connection live now is Close's to flush: what a connection
	// that already dropped lost is not a flush failure of this Close.
	var active *Conn
	if !e.BeginClose(func() { active = c.current }) {
		e.AwaitClose()
		return nil
	}
	c.cancelDial()
	started := e.Started()
	return e.Finish(func() error {
		if started {
			<-c.runDone
		}
		e.Lock()
		c.current = nil
		e.Unlock()
		if active == nil {
			return nil
		}
		return e.FlushError(active.c.UnsentBytes())
	})
}

// Shutdown is Close bounded by ctx: if ctx ends before the connection has
// flushed and ended, it is dropped with what it still had queued, and the
// error wraps ctx.Err() (and says how many bytes were not written). Called
// from a listener, it returns at once, as Close does; the bound still
// applies.
func (c *Client) Shutdown(ctx context.Context) error {
	e, err := c.core()
	if err != nil {
		return err
	}
	return e.Shutdown(ctx, c.Close, func() {
		if cur := c.Conn(); cur != nil {
			cur.c.Abort()
		}
	})
}
