package server

import (
	"context"
	"errors"
	"fmt"
	"github.com/socketipc/socketipc/internal/errtext"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/socketipc/socketipc/clientid"
	"github.com/socketipc/socketipc/internal/conn"
	"github.com/socketipc/socketipc/internal/endpoint"
	"github.com/socketipc/socketipc/internal/socketfile"
	"github.com/socketipc/socketipc/message"
)

// Defaults of Options' zero fields.
const (
	DefaultMaxFrameSize  = message.DefaultMaxFrameSize // 16 MiB
	DefaultMaxQueueBytes = conn.DefaultMaxQueueBytes   // 64 MiB per connection
	DefaultFlushTimeout  = conn.DefaultFlushTimeout    // 5 s
	DefaultMaxReadAhead  = conn.DefaultMaxReadAhead    // 8 MiB, all connections together
)

var (
	// ErrInvalidSocketFile is wrapped by New's error for an unusable SocketFile.
	ErrInvalidSocketFile = socketfile.ErrInvalid
	// ErrListenCalled: Listen was already called on this Server.
	ErrListenCalled = errors.New("socketipc: Listen already called")
	// ErrNotCreated: the Server was not made by New (a zero Server{}).
	ErrNotCreated = errors.New("socketipc: server not created with server.New")
	// ErrServerClosed: the Server was closed.
	ErrServerClosed = errors.New("socketipc: server closed")
	// ErrPeerRefused: Options.AllowPeer refused a connection.
	ErrPeerRefused = errors.New("socketipc: connection refused by AllowPeer")
	// ErrTooManyConnections: a connection came while MaxConnections
	// clients were connected; it was closed at once.
	ErrTooManyConnections = errors.New("socketipc: too many connections")
	// ErrIdleTimeout: a client sent nothing for Options.IdleTimeout; its
	// connection was closed.
	ErrIdleTimeout = conn.ErrIdleTimeout
)

// Options configure a Server. Only SocketFile is required; every zero field
// means the documented default.
type Options struct {
	// SocketFile is the path of the socket file. Empty, all-digit (it looks
	// like a port) and over-long paths are rejected by New.
	SocketFile string
	// SocketMode, when not zero, is the socket file's permission bits (for
	// example 0o600); the file never exists with wider ones, and the
	// process umask is never changed (so no other file is created looser
	// meanwhile). Zero leaves them to the process umask, as Node does.
	// Windows has no permission bits on socket files: there New refuses a
	// SocketMode other than zero (the error matches ErrInvalidSocketFile and
	// errors.ErrUnsupported).
	SocketMode os.FileMode
	// Transcoder encodes and decodes messages; nil means message.JSON.
	Transcoder message.Transcoder
	// Framing is the frame delimiter; the zero value is "\x00\x00"
	// (socket-ipc 0.4); message.LegacyFraming talks to older peers.
	Framing message.Framing
	// MaxFrameSize limits an incoming frame (delimiter not counted); a larger
	// one is an error and closes that connection. Zero: 16 MiB.
	MaxFrameSize int
	// MaxQueueBytes limits each connection's send queue. A Send that does not
	// fit fails with message.ErrQueueFull. Zero: 64 MiB.
	MaxQueueBytes int
	// DisconnectSlowClients drops a client whose queue overflowed, instead
	// of keeping it and failing the sends. What was queued for it is
	// discarded: the overflowing Send's (or Broadcast's) error and the
	// client's connectionClose event carry a *message.DiscardedError that
	// says how many accepted messages and bytes were lost.
	DisconnectSlowClients bool
	// FlushTimeout bounds how long Close waits for each connection to write
	// what was queued and for the peer to end its side. Zero: 5 s.
	FlushTimeout time.Duration
	// MaxReadAhead bounds the bytes read from all clients together that
	// listeners have not yet consumed (frames and what carries them). Once
	// it is reached, no connection is read further until listeners catch
	// up (each connection also stops at 1 MiB of its own), so the clients'
	// writes wait in the kernel and nothing is lost. Zero: 8 MiB. See
	// docs/SECURITY.md for how it enters the memory bound.
	MaxReadAhead int
	// MaxConnections, when positive, limits how many clients may be
	// connected at once: a connection beyond it is closed as soon as it is
	// accepted and an error matching ErrTooManyConnections is emitted.
	// Zero: no limit.
	MaxConnections int
	// IdleTimeout, when positive, closes a client's connection once the
	// client has sent nothing for that long (what the server sends does not
	// count; clients that only listen should send something now and then),
	// and emits an error matching ErrIdleTimeout with its id. The
	// connection closes gracefully: what was queued for it is written
	// first. Zero: no timeout.
	IdleTimeout time.Duration
	// AllowPeer, when set, is asked about each new connection with the
	// peer's credentials; an error refuses the connection (it is closed at
	// once and the error, wrapped with ErrPeerRefused, emitted). It runs on
	// the accepting goroutine, not with the events; a panic in it refuses
	// the connection and is reported in that error. Peer credentials exist
	// on Linux, darwin, FreeBSD, OpenBSD and NetBSD (see PeerCred); elsewhere
	// (Windows) every connection is refused, with an error matching
	// errors.ErrUnsupported.
	AllowPeer func(cred PeerCred) error
	// Logger receives error events that have no listener. Nil: slog.Default().
	Logger *slog.Logger
}

// Server is a socketipc server. Create it with New; the zero Server is not
// usable (its methods fail with ErrNotCreated, and register nothing).
type Server struct {
	e    *endpoint.Endpoint
	opts Options

	// guarded by e's lock, with its close state
	clients    map[string]*Conn
	clientList []*Conn // the values of clients, for Broadcast; rebuilt, never changed
	listener   *socketfile.Listener
	acceptDone chan struct{}

	conns      sync.WaitGroup
	broadcasts conn.SharedFrames // each broadcast frame, stored once for every queue
	readBudget *conn.ReadBudget  // shared by every connection
}

// New checks the options and returns a Server that is not yet listening.
func New(opts Options) (*Server, error) {
	if err := socketfile.Validate(opts.SocketFile); err != nil {
		return nil, err
	}
	if err := socketfile.ValidateMode(opts.SocketMode); err != nil {
		return nil, err
	}
	e := endpoint.New(endpoint.Options{
		Conn: conn.Config{
			SocketFile:    opts.SocketFile,
			Transcoder:    opts.Transcoder,
			Framing:       opts.Framing,
			MaxFrameSize:  opts.MaxFrameSize,
			MaxQueueBytes: opts.MaxQueueBytes,
			FlushTimeout:  opts.FlushTimeout,
			IdleTimeout:   opts.IdleTimeout,
		},
		Logger:       opts.Logger,
		Events:       events,
		WithClientID: true,
	})
	return &Server{
		e:          e,
		opts:       opts,
		clients:    make(map[string]*Conn),
		readBudget: conn.NewReadBudget(opts.MaxReadAhead),
	}, nil
}

// core returns the server's core, or ErrNotCreated for a zero Server.
func (s *Server) core() (*endpoint.Endpoint, error) {
	if s == nil || s.e == nil {
		return nil, ErrNotCreated
	}
	return s.e, nil
}

// SocketFile is the path the server listens on.
func (s *Server) SocketFile() string { return s.opts.SocketFile }

// Listen binds the socket file (reclaiming it if a crashed server left it)
// and starts accepting connections. It returns once bound, or with the
// error, which is also emitted; "listening" follows a successful bind.
// It may be called once.
func (s *Server) Listen() error {
	e, err := s.core()
	if err != nil {
		return err
	}
	if err := e.Start("listen", ErrListenCalled, ErrServerClosed); err != nil {
		return err
	}
	ln, err := socketfile.Listen(s.opts.SocketFile, s.opts.SocketMode)
	if err != nil {
		return e.Fail(errtext.Wrap("listen on "+s.opts.SocketFile, err))
	}
	e.Lock()
	if e.ClosedLocked() {
		e.Unlock()
		ln.Close()
		return e.Fail(errtext.Wrap("listen", ErrServerClosed))
	}
	s.listener = ln
	s.acceptDone = make(chan struct{})
	e.Unlock()
	e.Post(EventListening)
	go s.acceptLoop(ln)
	return nil
}

func (s *Server) acceptLoop(ln *socketfile.Listener) {
	defer close(s.acceptDone)
	var delay time.Duration
	for {
		nc, err := ln.AcceptUnix()
		if err != nil {
			select {
			case <-s.e.Closing():
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors and the like: report, back off, go on (as net/http does).
			s.e.Report(errtext.Wrap("accept", err))
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-s.e.Closing():
				t.Stop()
				return
			}
			continue
		}
		delay = 0
		s.admit(nc)
	}
}

func (s *Server) admit(nc *net.UnixConn) {
	if err := endpoint.AllowPeer(nc, s.opts.AllowPeer, ErrPeerRefused); err != nil {
		nc.Close()
		// A peer can connect again and again: fold these too.
		s.e.Refused(err)
		s.e.ReportFolded(ErrPeerRefused, err)
		return
	}
	id := clientid.New()
	boxedID := any(id)
	var pub *Conn
	cfg := s.e.ConnConfig(endpoint.Hooks{
		ClientID: id,
		OnDrain:  func(*conn.Conn) { s.e.Emitter().Emit(EventDrain, boxedID) },
		OnClose:  func(c *conn.Conn) { s.connectionClosed(c, boxedID) },
		Ended: func(*conn.Conn) {
			s.e.Lock()
			delete(s.clients, id)
			s.listClients()
			s.e.Unlock()
		},
		Exited: s.conns.Done,
	})
	cfg.ReadBudget = s.readBudget
	c := conn.New(nc, cfg)
	pub = &Conn{c: c, e: s.e}
	s.e.Lock()
	if s.e.ClosedLocked() {
		s.e.Unlock()
		nc.Close()
		return
	}
	if limit := s.opts.MaxConnections; limit > 0 && len(s.clients) >= limit {
		s.e.Unlock()
		nc.Close()
		refused := fmt.Errorf("%w: %d clients connected (MaxConnections); one more was closed at once", ErrTooManyConnections, limit)
		s.e.Refused(refused)
		s.e.ReportFolded(ErrTooManyConnections, refused)
		return
	}
	s.clients[id] = pub
	s.listClients()
	s.conns.Add(1)
	s.e.Unlock()
	s.e.Opened(c)
	s.e.Post(EventConnection, id, pub)
	c.Run()
}

// listClients rebuilds clientList after clients changed; e is locked.
func (s *Server) listClients() {
	list := make([]*Conn, 0, len(s.clients))
	for _, c := range s.clients {
		list = append(list, c)
	}
	s.clientList = list
}

// Send queues msg under topic for one client. It fails (returning and
// emitting a *message.SendError) after Close, for an id that is not
// connected (message.ErrBadClient), for a message that can't be encoded
// (*message.EncodeError) and when that client's queue is full
// (message.ErrQueueFull). A nil return means the frame will be written
// before the connection closes, Close included, with one exception: with
// Options.DisconnectSlowClients, a client whose queue later overflows is
// dropped with what was queued for it. Then the Send or Broadcast that
// overflowed says how many accepted messages (and bytes) were discarded,
// in a *message.DiscardedError in its error chain, and so does the
// client's connectionClose event, in its second argument.
func (s *Server) Send(topic string, msg any, clientID string) error {
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
	return e.Send(client, topic, msg, message.ErrBadClient, s.queueFull, func(err error) error {
		return &message.SendError{Topic: topic, Message: msg, ClientID: clientID, Err: err}
	})
}

// queueFull is Send's error for a client whose queue refused the frame,
// with what it discarded when DisconnectSlowClients dropped it.
func (s *Server) queueFull(c *conn.Conn, err error) error {
	if dropped := s.overflowed(c); dropped != nil {
		return fmt.Errorf("%w; %w", err, dropped)
	}
	return err
}

// overflowed handles a client whose queue refused a frame: with
// DisconnectSlowClients it is dropped, and the returned *DiscardedError
// says what it had accepted and will never write.
func (s *Server) overflowed(c *conn.Conn) error {
	if !s.opts.DisconnectSlowClients {
		return nil
	}
	msgs, n := c.Drop(message.ErrSlowClient)
	return &message.DiscardedError{ClientID: c.ID(), Messages: msgs, Bytes: n, Err: message.ErrSlowClient}
}

// connectionClosed emits connectionClose (clientID), with a second
// argument, a *message.DiscardedError, when the connection ended with
// messages it had accepted and never wrote.
func (s *Server) connectionClosed(c *conn.Conn, boxedID any) {
	msgs, n, reason := c.Unsent()
	if n == 0 {
		s.e.Emitter().Emit(EventConnectionClose, boxedID)
		return
	}
	s.e.Emitter().Emit(EventConnectionClose, boxedID, &message.DiscardedError{ClientID: c.ID(), Messages: msgs, Bytes: n, Err: reason})
}

// Broadcast encodes msg once and queues it for every connected client;
// with no clients it does nothing. A nil return means every connected
// client will be sent the message. Clients that will not be sent it are
// listed in the returned (and emitted) *message.SendError's Missed: those
// whose queue is full (the error matches message.ErrQueueFull) and those
// whose connection is already closing, because the client hung up or
// Close has begun (message.ErrConnectionClosed). Every other client still
// gets the message.
func (s *Server) Broadcast(topic string, msg any) error {
	e, err := s.core()
	if err != nil {
		return err
	}
	e.Lock()
	if e.ClosedLocked() {
		e.Unlock()
		return e.Fail(&message.SendError{Topic: topic, Message: msg, Err: message.ErrSendAfterClose})
	}
	targets := s.clientList // never modified: replaced when clients come and go
	e.Unlock()
	if len(targets) == 0 {
		return nil
	}
	var missed []string
	var dropped []error
	var full, closing int
	err = e.EncodeFrame(topic, msg, func(frame []byte) error {
		shared := s.broadcasts.Store(frame)
		now := conn.Now()
		for _, pub := range targets {
			c := pub.c
			switch err := c.EnqueueShared(shared, now); {
			case err == nil:
			case errors.Is(err, message.ErrQueueFull):
				missed = append(missed, c.ID())
				full++
				if err := s.overflowed(c); err != nil {
					dropped = append(dropped, err)
				}
			default: // closing: it will never be written
				missed = append(missed, c.ID())
				closing++
			}
		}
		return nil
	})
	if err != nil {
		return e.Fail(&message.SendError{Topic: topic, Message: msg, Err: err})
	}
	if len(missed) == 0 {
		return nil
	}
	var why error
	switch {
	case closing == 0:
		why = message.ErrQueueFull
	case full == 0:
		why = message.ErrConnectionClosed
	default:
		why = fmt.Errorf("%w (%d clients); %w (%d clients)", message.ErrQueueFull, full, message.ErrConnectionClosed, closing)
	}
	if len(dropped) > 0 {
		why = fmt.Errorf("%w; %w", why, errors.Join(dropped...))
	}
	return e.Fail(&message.SendError{Topic: topic, Message: msg, Missed: missed, Err: why})
}

// ClientIDs lists the connected clients. A client whose connection is
// closing (it hung up, or is being closed, and what was queued for it is
// still being written) is listed until its connectionClose event; Send
// and Broadcast report it as not sent to (message.ErrBadClient for Send,
// Missed with message.ErrConnectionClosed for Broadcast).
func (s *Server) ClientIDs() []string {
	e, err := s.core()
	if err != nil {
		return nil
	}
	e.Lock()
	defer e.Unlock()
	ids := make([]string, 0, len(s.clients))
	for id := range s.clients {
		ids = append(ids, id)
	}
	return ids
}

// Conn returns a connected client's connection, or nil (also once Close
// has begun).
func (s *Server) Conn(clientID string) *Conn {
	e, err := s.core()
	if err != nil {
		return nil
	}
	e.Lock()
	defer e.Unlock()
	if e.ClosedLocked() {
		return nil
	}
	return s.clients[clientID]
}

// Close stops accepting, removes the socket file (if it is still ours),
// and ends every connection gracefully: what was queued is written first,
// within FlushTimeout. It returns when every connection is closed and
// "closed" and "close" have been delivered; an error says how much could not
// be flushed. Close may be called more than once. Called from a listener, it
// starts all of that and returns at once (it can't wait for the very
// listener it runs in); the close event says when it is done.
func (s *Server) Close() error {
	e, err := s.core()
	if err != nil {
		return err
	}
	var ln *socketfile.Listener
	var conns []*Conn
	if !e.BeginClose(func() {
		ln = s.listener
		conns = s.clientList
	}) {
		e.AwaitClose()
		return nil
	}
	var errs []error
	if ln != nil {
		if err := ln.Close(); err != nil {
			errs = append(errs, errtext.Wrap("close listener", err))
		}
		<-s.acceptDone
	}
	for _, c := range conns {
		c.c.Close()
	}
	return e.Finish(func() error {
		s.conns.Wait()
		unsent := 0
		for _, c := range conns {
			unsent += c.c.UnsentBytes()
		}
		return errors.Join(append(errs, e.FlushError(unsent))...)
	})
}

// Shutdown is Close bounded by ctx: if ctx ends before every connection has
// flushed and ended, the connections left are dropped with what they still
// had queued, and the error wraps ctx.Err() (and says how many bytes were
// not written). Called from a listener, it returns at once, as Close does;
// the bound still applies.
func (s *Server) Shutdown(ctx context.Context) error {
	e, err := s.core()
	if err != nil {
		return err
	}
	return e.Shutdown(ctx, s.Close, func() {
		e.Lock()
		conns := s.clientList
		e.Unlock()
		for _, c := range conns {
			c.c.Abort()
		}
	})
}
