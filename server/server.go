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
	"reflect"
	"sync"
	"time"

	"github.com/socketipc/socketipc/clientid"
	"github.com/socketipc/socketipc/emitter"
	"github.com/socketipc/socketipc/internal/conn"
	"github.com/socketipc/socketipc/internal/errfold"
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
	DefaultMaxReadAhead  = conn.DefaultMaxReadAhead    // 8 MiB, all connections together
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

// Server is a socketipc server. Create it with New.
type Server struct {
	*emitter.Emitter
	opts Options
	loop *loop.Loop
	// errors folds the error events of failing calls (see fail).
	errors errfold.Folder

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
	readBudget   *conn.ReadBudget // shared by every connection
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
		Emitter:    emitter.New(emitter.Options{Logger: opts.Logger}),
		opts:       opts,
		loop:       loop.New(),
		clients:    make(map[string]*conn.Conn),
		closing:    make(chan struct{}),
		closeDone:  make(chan struct{}),
		readBudget: conn.NewReadBudget(opts.MaxReadAhead),
	}, nil
}

// SocketFile is the path the server listens on.
func (s *Server) SocketFile() string { return s.opts.SocketFile }

// emit delivers an event on the loop, in order with every other event.
func (s *Server) emit(event string, args ...any) {
	s.loop.Post(func() { s.Emit(event, args...) })
}

// fail emits err and returns it: every failing method does both. The
// event is folded into one of the same kind still waiting on the loop, if
// any (see errfold), so failures in a tight loop never queue events
// without bound; the caller always gets its own error.
func (s *Server) fail(err error) error {
	s.errors.Post(errfold.SendKey(err), err, s.loop.Post, s.emitError)
	return err
}

func (s *Server) emitError(err error) { s.Emit("error", err) }

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
	guard := new(conn.FrameGuard)
	c := conn.New(nc, conn.Config{
		ClientID:      id,
		SocketFile:    s.opts.SocketFile,
		Transcoder:    s.opts.Transcoder,
		Framing:       s.opts.Framing,
		MaxFrameSize:  s.opts.MaxFrameSize,
		MaxQueueBytes: s.opts.MaxQueueBytes,
		FlushTimeout:  s.opts.FlushTimeout,
		ReadBudget:    s.readBudget,
		IdleTimeout:   s.opts.IdleTimeout,
		Loop:          s.loop,
		Inline:        &s.inline,
		DecodeType:    s.decodeType,
		OnMessages:    func(c *conn.Conn, msgs []conn.Msg) { s.deliver(c, guard, msgs, boxedID) },
		OnError:       func(_ *conn.Conn, err error) { s.Emit("error", err) },
		OnDrain:       func(*conn.Conn) { s.Emit("drain", id) },
		OnClose:       func(c *conn.Conn) { s.connectionClosed(c, boxedID) },
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
			// A peer can connect again and again: fold these too.
			refused := fmt.Errorf("%w (pid %d, uid %d, gid %d): %w", ErrPeerRefused, cred.PID, cred.UID, cred.GID, err)
			s.errors.Post(errfold.Key{Kind: ErrPeerRefused}, refused, s.loop.Post, s.emitError)
			return
		}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		return
	}
	if limit := s.opts.MaxConnections; limit > 0 && len(s.clients) >= limit {
		s.mu.Unlock()
		nc.Close()
		refused := fmt.Errorf("%w: %d clients connected (MaxConnections); one more was closed at once", ErrTooManyConnections, limit)
		s.errors.Post(errfold.Key{Kind: ErrTooManyConnections}, refused, s.loop.Post, s.emitError)
		return
	}
	s.clients[id] = c
	s.listClients()
	s.conns.Add(1)
	s.mu.Unlock()
	s.emit("connection", id, c)
	c.Run()
}

// deliver runs on the loop with one read's worth of a client's frames. A
// run of malformed frames is one error event; a client that sends too many
// is dropped, and nothing more of it is delivered.
func (s *Server) deliver(c *conn.Conn, guard *conn.FrameGuard, msgs []conn.Msg, boxedID any) {
	run := 0 // malformed frames just before msgs[i]
	for i := 0; i < len(msgs) && !guard.Rejected(); i++ {
		m := &msgs[i]
		if m.Err != nil {
			n, err := conn.BadRun(msgs, i, run)
			run += n
			s.Emit("error", err)
			if err := guard.Bad(n, time.Now(), m.Err); err != nil {
				c.Reject()
				s.Emit("error", err)
			}
			i += n - 1
			continue
		}
		run = 0
		s.Emit("message", m, m.Topic.Boxed, boxedID)
		s.Emit(m.Topic.Event, m, boxedID)
		m.Delivered()
	}
}

// decodeType is the type the first listener of a message with topic t
// decodes its payload into, in the order deliver emits its events.
func (s *Server) decodeType(t *conn.Topic) reflect.Type {
	if ty := emitter.DecodeType(s.Emitter, "message", 0); ty != nil {
		return ty
	}
	return emitter.DecodeType(s.Emitter, t.Event, 0)
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
// before the connection closes, Close included, with one exception: with
// Options.DisconnectSlowClients, a client whose queue later overflows is
// dropped with what was queued for it. Then the Send or Broadcast that
// overflowed says how many accepted messages (and bytes) were discarded,
// in a *message.DiscardedError in its error chain, and so does the
// client's connectionClose event, in its second argument.
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
		if dropped := s.overflowed(c); dropped != nil {
			err = fmt.Errorf("%w; %w", err, dropped)
		}
	}
	return sendErr(err)
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
		s.Emit("connectionClose", boxedID)
		return
	}
	s.Emit("connectionClose", boxedID, &message.DiscardedError{ClientID: c.ID(), Messages: msgs, Bytes: n, Err: reason})
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
	var dropped []error
	var full, closing int
	err := conn.EncodeFrame(s.opts.Transcoder, s.opts.Framing, topic, msg, func(frame []byte) error {
		shared := s.broadcasts.Store(frame)
		now := conn.Now()
		for _, c := range targets {
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
		return s.fail(&message.SendError{Topic: topic, Message: msg, Err: err})
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
	return s.fail(&message.SendError{Topic: topic, Message: msg, Missed: missed, Err: why})
}

// ClientIDs lists the connected clients. A client whose connection is
// closing (it hung up, or is being closed, and what was queued for it is
// still being written) is listed until its connectionClose event; Send
// and Broadcast report it as not sent to (message.ErrBadClient for Send,
// Missed with message.ErrConnectionClosed for Broadcast).
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
