// Package conn runs one socket connection for a server or a client.
//
// A Conn owns up to two goroutines. The reader (reader.go) cuts the stream into
// frames, splits each frame's envelope and hands the frames of one read to
// the event loop as a single batch; it stops reading while too much of its
// input is still waiting on the loop, so a slow listener bounds memory
// instead of growing it. The writer (writer.go) drains a bounded send queue,
// writing everything queued in one call; it runs only while there is
// something to write, so an idle connection has the reader alone. Close (close.go) flushes the queue,
// half-closes and waits (within the flush timeout) for the peer to end its
// side; Abort drops everything at once. Incoming frames are Msgs (msg.go).
package conn

import (
	"errors"
	"github.com/socketipc/socketipc/internal/errtext"
	"net"
	"reflect"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/socketipc/socketipc/internal/loop"
	"github.com/socketipc/socketipc/message"
)

// Defaults for Config's zero fields.
const (
	DefaultMaxQueueBytes = 64 << 20
	DefaultFlushTimeout  = 5 * time.Second
	DefaultReadAhead     = 1 << 20
)

// Config is what a connection needs from its owner. The hooks named On*
// run on the loop, in order with the owner's other events.
type Config struct {
	ClientID string // the server's id for this client; empty on a client
	// SocketFile, on a server, is the path clients connect to; the socket
	// may have been bound elsewhere first (see socketfile), and addresses
	// and errors should name the path users know.
	SocketFile    string
	Transcoder    message.Transcoder
	Framing       message.Framing
	MaxFrameSize  int
	MaxQueueBytes int
	ReadAhead     int // bytes read but not yet delivered before the reader pauses
	// ReadBudget, when set, is shared by all the connections of one owner:
	// it bounds what they have read ahead together.
	ReadBudget *ReadBudget
	// IdleTimeout, when positive, closes the connection (reporting
	// ErrIdleTimeout) once the peer has sent nothing for that long.
	IdleTimeout  time.Duration
	FlushTimeout time.Duration
	Loop         *loop.Loop
	// Inline is shared by all the connections of one Server or Client; nil
	// means this connection decides alone (see InlineGate).
	Inline *InlineGate

	// DecodeType, when set, tells the reader which type the first
	// listener of a message decodes its payload into (nil: none), so
	// the reader can decode it ahead while the loop runs earlier
	// listeners. It runs on the reader: it must be cheap and safe for
	// concurrent use.
	DecodeType func(t *Topic) reflect.Type

	OnMessages func(c *Conn, msgs []Msg) // a batch of frames, in arrival order
	OnError    func(c *Conn, err error)  // a read or write failure, or a frame over the limit
	OnDrain    func(c *Conn)             // the queue emptied after refusing a frame
	OnClose    func(c *Conn)             // the connection has ended, goroutines gone
	// Ended runs on the connection's own goroutine as it ends, before
	// OnClose is posted, so the owner can stop addressing it at once.
	Ended func(c *Conn)
	// Exited is the last thing the connection's goroutines do.
	Exited func()
}

// SetDefaults fills cfg's zero limits and transcoder with their defaults:
// the one place where a Server's and a Client's defaults are set.
func (cfg *Config) SetDefaults() {
	if cfg.Transcoder == nil {
		cfg.Transcoder = message.JSON
	}
	if cfg.MaxFrameSize <= 0 {
		cfg.MaxFrameSize = message.DefaultMaxFrameSize
	}
	if cfg.MaxQueueBytes <= 0 {
		cfg.MaxQueueBytes = DefaultMaxQueueBytes
	}
	if cfg.ReadAhead <= 0 {
		cfg.ReadAhead = DefaultReadAhead
	}
	if cfg.FlushTimeout <= 0 {
		cfg.FlushTimeout = DefaultFlushTimeout
	}
}

// origin is what a Msg needs of its connection: how to decode its payload
// and whom to name in its errors.
type origin struct {
	transcoder message.Transcoder
	clientID   string
	stats      *connStats
	// checked holds the value Msg.Check decoded for the message being
	// delivered (one at a time) until its listener takes it.
	checked preSlot
	// scratch is what Check decodes into for checked: one value, of the
	// last type it decoded, zeroed once its message is delivered, so
	// that checking allocates nothing for the value itself (listeners
	// take a copy of it).
	scratch reflect.Value
}

// Conn is one live connection. Its exported methods are safe for concurrent use.
type Conn struct {
	cfg     Config
	origin  origin // shared by the connection's Msgs
	nc      *net.UnixConn
	cred    PeerCred
	credErr error

	raw syscall.RawConn

	mu           sync.Mutex
	queue        sendQueue
	spareSegs    [][]byte
	spareRetired []*[chunkSize]byte // the writer's, as spareSegs
	queued       int                // bytes in queue plus bytes being written
	writing      bool               // the writer, or a sender writing inline, owns the socket's write side
	writerOn     bool               // the writer goroutine runs (see kickWriterLocked)
	lastEnqueue  time.Duration
	closing      bool
	aborted      bool
	wantDrain    bool
	unsent       int // bytes dropped by an abort or a flush timeout
	unsentMsgs   int // the frames those bytes belonged to (a frame cut short counts)
	dropReason   error
	writeIdle    sync.Cond // on mu: signalled when writing becomes false
	wake         chan struct{}

	inflight    atomic.Int64 // bytes handed to the loop, not yet delivered
	space       chan struct{}
	readerDone  chan struct{}
	stop        chan struct{} // closed by Abort
	closingCh   chan struct{} // closed when a graceful close starts
	closingOnce sync.Once
	stopOnce    sync.Once
	closeFD     sync.Once
	errOnce     sync.Once
	done        chan struct{}
	topics      topicCache
	readerID    uint64 // the reader's goroutine id, for Loop.Deliver
	reserved    int64  // the reader's share of ReadBudget, taken before a read
	budgetWait  budgetWaiter
	stats       connStats // see stats.go
}

// ErrIdleTimeout: the peer sent nothing for the idle timeout.
var ErrIdleTimeout = errors.New("socketipc: connection idle for too long")

// New prepares a connection over nc; Run starts it. In between, the owner
// can inspect it (PeerCred) and announce it before any message arrives.
func New(nc *net.UnixConn, cfg Config) *Conn {
	if !idleReads {
		cfg.ReadBudget = nil
	}
	cfg.SetDefaults()
	c := &Conn{
		cfg:        cfg,
		origin:     origin{transcoder: cfg.Transcoder, clientID: cfg.ClientID},
		nc:         nc,
		wake:       make(chan struct{}, 1),
		space:      make(chan struct{}, 1),
		readerDone: make(chan struct{}),
		stop:       make(chan struct{}),
		closingCh:  make(chan struct{}),
		done:       make(chan struct{}),
	}
	c.origin.stats = &c.stats
	c.budgetWait.granted = make(chan struct{}, 1)
	c.writeIdle.L = &c.mu
	c.cred, c.credErr = peerCred(nc)
	c.raw, _ = nc.SyscallConn()
	return c
}

// Run starts the reader; the writer starts when there is something to
// write, or to end.
func (c *Conn) Run() {
	go c.readLoop()
}

// ID is the server's id for this client; empty on a client's connection.
func (c *Conn) ID() string { return c.cfg.ClientID }

// PeerCred returns the credentials of the process at the other end, as the
// kernel saw them when the connection was made (see PeerCred for each system).
func (c *Conn) PeerCred() (PeerCred, error) { return c.cred, c.credErr }

// LocalAddr is the socket's address, named as users know it (on a server,
// the socket file, wherever it was bound first).
func (c *Conn) LocalAddr() net.Addr {
	if c.cfg.SocketFile != "" {
		return &net.UnixAddr{Name: c.cfg.SocketFile, Net: "unix"}
	}
	return c.nc.LocalAddr()
}

// Done is closed when the connection has ended and its goroutines are gone.
func (c *Conn) Done() <-chan struct{} { return c.done }

// QueuedBytes is how many bytes are queued or being written.
func (c *Conn) QueuedBytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queued
}

// UnsentBytes is how many queued bytes were dropped because the connection
// was aborted or could not flush within the flush timeout.
func (c *Conn) UnsentBytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unsent
}

// Unsent tells what the connection discarded of what it had accepted: how
// many messages (a message cut short counts) and bytes were never written
// in whole, and why (the reason given to Drop, or the write error). Final
// once Done is closed, or once Drop has returned.
func (c *Conn) Unsent() (messages, bytes int, reason error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unsentMsgs, c.unsent, c.dropReason
}

func (c *Conn) wrap(op string, err error) error {
	var opErr *net.OpError
	if c.cfg.SocketFile != "" && errors.As(err, &opErr) {
		opErr.Source = c.LocalAddr() // a fresh error of ours: safe to edit
	}
	if c.cfg.ClientID != "" {
		return errtext.Wrap(op+" client "+c.cfg.ClientID, err)
	}
	return errtext.Wrap(op, err)
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
