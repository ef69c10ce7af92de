// Package server is the listening side of socketipc: a Server binds a Unix
// socket file, gives each connection a client id, and exchanges messages
// with its clients, reporting everything through events named as in the
// Node package socket-ipc ("listening", "connection", "message",
// "message.<topic>", "error", "close", ...).
//
// Events are delivered one at a time, in order, on one goroutine per Server;
// see the emitter package for how listeners are declared and called.
package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/socketipc/socketipc/clientid"
	"github.com/socketipc/socketipc/emitter"
	"github.com/socketipc/socketipc/internal/conn"
	"github.com/socketipc/socketipc/internal/loop"
	"github.com/socketipc/socketipc/internal/socketfile"
	"github.com/socketipc/socketipc/message"
)

// Conn is one client's connection, passed with the "connection" event: its
// id, its peer's credentials, its send queue, and Done to learn when it ends.
type Conn = conn.Conn

// PeerCred identifies the process at the other end of a connection: pid,
// effective uid and gid, as the kernel recorded them when the connection was
// made (Linux and OpenBSD SO_PEERCRED; darwin and FreeBSD LOCAL_PEERCRED, with
// LOCAL_PEERPID for darwin's pid; NetBSD LOCAL_PEEREID). Other systems, Windows
// among them, have none: reading them fails with errors.ErrUnsupported.
type PeerCred = conn.PeerCred

// Defaults of Options' zero fields.
const (
	DefaultMaxFrameSize  = message.DefaultMaxFrameSize // 16 MiB
	DefaultMaxQueueBytes = conn.DefaultMaxQueueBytes   // 64 MiB per connection
	DefaultFlushTimeout  = conn.DefaultFlushTimeout    // 5 s
)

var (
	// ErrInvalidSocketFile is wrapped by New's error for an unusable SocketFile.
	ErrInvalidSocketFile = socketfile.ErrInvalid
	// ErrListenCalled: Listen was already called on this Server.
	ErrListenCalled = errors.New("socketipc: Listen already called")
	// ErrServerClosed: the Server was closed.
	ErrServerClosed = errors.New("socketipc: server closed")
	// ErrPeerRefused: Options.AllowPeer refused a connection.
	ErrPeerRefused = errors.New("socketipc: connection refused by AllowPeer")
)

// Options configure a Server. Only SocketFile is required; every zero field
// means the documented default.
type Options struct {
	// SocketFile is the path of the socket file. Empty, all-digit (it looks
	// like a port) and over-long paths are rejected by New.
	SocketFile string
	// SocketMode, when not zero, is the socket file's permission bits (for
	// example 0o600); the file never exists with wider ones. Zero leaves
	// them to the process umask, as Node does. Windows has no permission
	// bits on socket files: there New refuses a SocketMode other than zero
	// (the error matches ErrInvalidSocketFile and errors.ErrUnsupported).
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
	// of keeping it and failing the sends.
	DisconnectSlowClients bool
	// FlushTimeout bounds how long Close waits for each connection to write
	// what was queued and for the peer to end its side. Zero: 5 s.
	FlushTimeout time.Duration
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

// Server is a socketipc server. Create it with New.
type Server struct {
	*emitter.Emitter
	opts Options
	loop *loop.Loop

	mu           sync.Mutex
	clients      map[string]*conn.Conn
	clientList   []*conn.Conn // the values of clients, for Broadcast; rebuilt, never changed
	listener     *socketfile.Listener
	listenCalled bool
	closed       bool
	closing      chan struct{}
	closeDone    chan struct{}
	acceptDone   chan struct{}
	conns        sync.WaitGroup
	broadcasts   conn.SharedFrames // each broadcast frame, stored once for every queue
	inline       conn.InlineGate
}

// New checks the options and returns a Server that is not yet listening.
func New(opts Options) (*Server, error) {
	if err := socketfile.Validate(opts.SocketFile); err != nil {
		return nil, err
	}
	if err := socketfile.ValidateMode(opts.SocketMode); err != nil {
		return nil, err
	}
	if opts.Transcoder == nil {
		opts.Transcoder = message.JSON
	}
	if opts.FlushTimeout <= 0 {
		opts.FlushTimeout = DefaultFlushTimeout
	}
	return &Server{
		Emitter:   emitter.New(emitter.Options{Logger: opts.Logger}),
		opts:      opts,
		loop:      loop.New(),
		clients:   make(map[string]*conn.Conn),
		closing:   make(chan struct{}),
		closeDone: make(chan struct{}),
	}, nil
}

// SocketFile is the path the server listens on.
func (s *Server) SocketFile() string { return s.opts.SocketFile }

// emit delivers an event on the loop, in order with every other event.
func (s *Server) emit(event string, args ...any) {
	s.loop.Post(func() { s.Emit(event, args...) })
}

// fail emits err and returns it: every failing method does both.
func (s *Server) fail(err error) error {
	s.emit("error", err)
	return err
}

// Listen binds the socket file (reclaiming it if a crashed server left it)
// and starts accepting connections. It returns once bound, or with the
// error, which is also emitted; "listening" follows a successful bind.
// It may be called once.
func (s *Server) Listen() error {
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return s.fail(fmt.Errorf("socketipc: listen: %w", ErrServerClosed))
	case s.listenCalled:
		s.mu.Unlock()
		return s.fail(fmt.Errorf("socketipc: listen: %w", ErrListenCalled))
	}
	s.listenCalled = true
	s.mu.Unlock()

	ln, err := socketfile.Listen(s.opts.SocketFile, s.opts.SocketMode)
	if err != nil {
		return s.fail(fmt.Errorf("socketipc: listen on %s: %w", s.opts.SocketFile, err))
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return s.fail(fmt.Errorf("socketipc: listen: %w", ErrServerClosed))
	}
	s.listener = ln
	s.acceptDone = make(chan struct{})
	s.mu.Unlock()
	s.emit("listening")
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
			case <-s.closing:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors and the like: report, back off, go on (as net/http does).
			s.emit("error", fmt.Errorf("socketipc: accept: %w", err))
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-s.closing:
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
	id := clientid.New()
	boxedID := any(id)
	c := conn.New(nc, conn.Config{
		ClientID:      id,
		SocketFile:    s.opts.SocketFile,
		Transcoder:    s.opts.Transcoder,
		Framing:       s.opts.Framing,
		MaxFrameSize:  s.opts.MaxFrameSize,
		MaxQueueBytes: s.opts.MaxQueueBytes,
		FlushTimeout:  s.opts.FlushTimeout,
		Loop:          s.loop,
		Inline:        &s.inline,
		OnMessages:    func(_ *conn.Conn, msgs []conn.Msg) { s.deliver(msgs, boxedID) },
		OnError:       func(_ *conn.Conn, err error) { s.Emit("error", err) },
		OnDrain:       func(*conn.Conn) { s.Emit("drain", id) },
		OnClose:       func(*conn.Conn) { s.Emit("connectionClose", id) },
		Ended: func(*conn.Conn) {
			s.mu.Lock()
			delete(s.clients, id)
			s.listClients()
			s.mu.Unlock()
		},
		Exited: s.conns.Done,
	})
	if s.opts.AllowPeer != nil {
		cred, err := c.PeerCred()
		if err == nil {
			err = conn.AskAllowPeer(s.opts.AllowPeer, cred)
		}
		if err != nil {
			nc.Close()
			s.emit("error", fmt.Errorf("%w (pid %d, uid %d, gid %d): %w", ErrPeerRefused, cred.PID, cred.UID, cred.GID, err))
			return
		}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		return
	}
	s.clients[id] = c
	s.listClients()
	s.conns.Add(1)
	s.mu.Unlock()
	s.emit("connection", id, c)
	c.Run()
}

// deliver runs on the loop with one read's worth of a client's frames.
func (s *Server) deliver(msgs []conn.Msg, boxedID any) {
	for i := range msgs {
		m := &msgs[i]
		if m.Err != nil {
			s.Emit("error", m.Err)
			continue
		}
		s.Emit("message", m, m.Topic.Boxed, boxedID)
		s.Emit(m.Topic.Event, m, boxedID)
	}
}

// listClients rebuilds clientList after clients changed; s.mu is held.
func (s *Server) listClients() {
	list := make([]*conn.Conn, 0, len(s.clients))
	for _, c := range s.clients {
		list = append(list, c)
	}
	s.clientList = list
}

func (s *Server) client(id string) (*conn.Conn, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, true
	}
	return s.clients[id], false
}

// Send queues msg under topic for one client. It fails (returning and
// emitting a *message.SendError) after Close, for an id that is not
// connected (message.ErrBadClient), for a message that can't be encoded
// (*message.EncodeError) and when that client's queue is full
// (message.ErrQueueFull). A nil return means the frame will be written
// before the connection closes, Close included.
func (s *Server) Send(topic string, msg any, clientID string) error {
	c, closed := s.client(clientID)
	sendErr := func(err error) error {
		return s.fail(&message.SendError{Topic: topic, Message: msg, ClientID: clientID, Err: err})
	}
	switch {
	case closed:
		return sendErr(message.ErrSendAfterClose)
	case c == nil:
		return sendErr(message.ErrBadClient)
	}
	err := conn.EncodeFrame(s.opts.Transcoder, s.opts.Framing, topic, msg, c.Enqueue)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, message.ErrConnectionClosed):
		return sendErr(fmt.Errorf("%w: its connection is closing", message.ErrBadClient))
	case errors.Is(err, message.ErrQueueFull):
		s.overflowed(c)
	}
	return sendErr(err)
}

func (s *Server) overflowed(c *conn.Conn) {
	if s.opts.DisconnectSlowClients {
		c.Abort()
	}
}

// Broadcast encodes msg once and queues it for every connected client;
// with no clients it does nothing. Clients whose queue is full miss it: the
// returned (and emitted) *message.SendError lists them in Missed, and every
// other client still gets the message.
func (s *Server) Broadcast(topic string, msg any) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return s.fail(&message.SendError{Topic: topic, Message: msg, Err: message.ErrSendAfterClose})
	}
	targets := s.clientList // never modified: replaced when clients come and go
	s.mu.Unlock()
	if len(targets) == 0 {
		return nil
	}
	var missed []string
	err := conn.EncodeFrame(s.opts.Transcoder, s.opts.Framing, topic, msg, func(frame []byte) error {
		shared := s.broadcasts.Store(frame)
		now := conn.Now()
		for _, c := range targets {
			if err := c.EnqueueShared(shared, now); errors.Is(err, message.ErrQueueFull) {
				missed = append(missed, c.ID())
				s.overflowed(c)
			}
		}
		return nil
	})
	if err != nil {
		return s.fail(&message.SendError{Topic: topic, Message: msg, Err: err})
	}
	if len(missed) > 0 {
		return s.fail(&message.SendError{Topic: topic, Message: msg, Missed: missed, Err: message.ErrQueueFull})
	}
	return nil
}

// ClientIDs lists the connected clients.
func (s *Server) ClientIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.clients))
	for id := range s.clients {
		ids = append(ids, id)
	}
	return ids
}

// Conn returns a connected client's connection, or nil.
func (s *Server) Conn(clientID string) *Conn {
	c, _ := s.client(clientID)
	return c
}

// Close stops accepting, removes the socket file (if it is still ours),
// and ends every connection gracefully: what was queued is written first,
// within FlushTimeout. It returns when every connection is closed and
// "closed" and "close" have been delivered; an error says how much could not
// be flushed. Close may be called more than once. Called from a listener, it
// starts all of that and returns at once (it can't wait for the very
// listener it runs in); the close event says when it is done.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.awaitClose()
		return nil
	}
	s.closed = true
	close(s.closing)
	ln := s.listener
	conns := make([]*conn.Conn, 0, len(s.clients))
	for _, c := range s.clients {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	var errs []error
	if ln != nil {
		if err := ln.Close(); err != nil {
			errs = append(errs, fmt.Errorf("socketipc: close listener: %w", err))
		}
		<-s.acceptDone
	}
	for _, c := range conns {
		c.Close()
	}
	if s.loop.OnLoop() {
		// Inside a listener, perhaps on the very reader of one of these
		// connections: waiting for them here would wait for ourselves. A
		// goroutine finishes the close; the close event tells when.
		go s.finishClose(conns, errs)
		return nil
	}
	return s.finishClose(conns, errs)
}

// finishClose waits for the connections to end, reports what could not be
// flushed, delivers closed and close, and ends the loop.
func (s *Server) finishClose(conns []*conn.Conn, errs []error) error {
	s.conns.Wait()
	unsent := 0
	for _, c := range conns {
		unsent += c.UnsentBytes()
	}
	if unsent > 0 {
		errs = append(errs, fmt.Errorf("socketipc: close: %d queued bytes were not written within the flush timeout (%v)", unsent, s.opts.FlushTimeout))
	}
	err := errors.Join(errs...)
	if err != nil {
		s.emit("error", err)
	}
	s.emit("closed")
	s.emit("close")
	s.loop.Stop()
	<-s.loop.Done()
	close(s.closeDone)
	return err
}

func (s *Server) awaitClose() {
	if s.loop.OnLoop() {
		return
	}
	<-s.closeDone
	<-s.loop.Done()
}
