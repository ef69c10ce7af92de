// Package conn runs one socket connection for a server or a client.
//
// A Conn owns two goroutines. The reader cuts the stream into frames, splits
// each frame's envelope and hands the frames of one read to the event loop
// as a single batch; it stops reading while too much of its input is still
// waiting on the loop, so a slow listener bounds memory instead of growing
// it. The writer drains a bounded send queue, writing everything queued in
// one call. Close flushes the queue, half-closes and waits (within the flush
// timeout) for the peer to end its side; Abort drops everything at once.
package conn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
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

// Conn is one live connection. Its exported methods are safe for concurrent use.
type Conn struct {
	cfg     Config
	nc      *net.UnixConn
	cred    PeerCred
	credErr error

	raw syscall.RawConn

	mu          sync.Mutex
	queue       sendQueue
	spareSegs   [][]byte
	queued      int  // bytes in queue plus bytes being written
	writing     bool // the writer, or a sender writing inline, owns the socket's write side
	lastEnqueue time.Duration
	closing     bool
	aborted     bool
	wantDrain   bool
	unsent      int // bytes dropped by an abort or a flush timeout
	unsentMsgs  int // the frames those bytes belonged to (a frame cut short counts)
	dropReason  error
	writeIdle   sync.Cond // on mu: signalled when writing becomes false
	wake        chan struct{}

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
}

// ErrIdleTimeout: the peer sent nothing for the idle timeout.
var ErrIdleTimeout = errors.New("socketipc: connection idle for too long")

// New prepares a connection over nc; Run starts it. In between, the owner
// can inspect it (PeerCred) and announce it before any message arrives.
func New(nc *net.UnixConn, cfg Config) *Conn {
	if !idleReads {
		cfg.ReadBudget = nil
	}
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
	c := &Conn{
		cfg:        cfg,
		nc:         nc,
		wake:       make(chan struct{}, 1),
		space:      make(chan struct{}, 1),
		readerDone: make(chan struct{}),
		stop:       make(chan struct{}),
		closingCh:  make(chan struct{}),
		done:       make(chan struct{}),
	}
	c.budgetWait.granted = make(chan struct{}, 1)
	c.writeIdle.L = &c.mu
	c.cred, c.credErr = peerCred(nc)
	c.raw, _ = nc.SyscallConn()
	return c
}

// Run starts the reader and the writer.
func (c *Conn) Run() {
	go c.readLoop()
	go c.writeLoop()
}

// ID is the server's id for this client; empty on a client's connection.
func (c *Conn) ID() string { return c.cfg.ClientID }

// PeerCred returns the credentials of the process at the other end, as the
// kernel saw them when the connection was made (see PeerCred for each system).
func (c *Conn) PeerCred() (PeerCred, error) { return c.cred, c.credErr }

// LocalAddr and RemoteAddr are the socket's addresses.
func (c *Conn) LocalAddr() net.Addr {
	if c.cfg.SocketFile != "" {
		return &net.UnixAddr{Name: c.cfg.SocketFile, Net: "unix"}
	}
	return c.nc.LocalAddr()
}

func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

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

// Enqueue copies frame into the send queue (frame may be reused once it
// returns). It fails with message.ErrConnectionClosed once the connection
// is closing, and with message.ErrQueueFull when the queue has no room (a
// frame larger than the whole limit is still taken by an empty queue, so
// any frame can be sent).
func (c *Conn) Enqueue(frame []byte) error { return c.enqueue(frame, false, Now()) }

// EnqueueShared queues frame without copying it; frame must never change
// (see SharedFrames). now is Now(), read once for all the connections a
// frame goes to. Errors as for Enqueue.
func (c *Conn) EnqueueShared(frame []byte, now time.Duration) error {
	return c.enqueue(frame, true, now)
}

// Now is the clock of the inline-write decision: monotonic time since start.
func Now() time.Duration { return time.Since(clockBase) }

// inlineGap: a send that comes at least this long after the previous one,
// to an idle connection, is written at once by the sender (one attempt,
// never blocking), saving the hand-off to the writer goroutine on a
// request/response path. Senders that stream faster leave the writing to
// the writer goroutine, which then writes many frames per system call.
const inlineGap = 5 * time.Microsecond

var clockBase = time.Now()

// InlineGate keeps a sender that writes to many connections in turn (a
// broadcast loop, a server answering many clients) from writing inline to
// each: every inline write makes the loop slower, which makes each
// connection look quiet, which would make the next write inline too. While
// any connection of the owner wrote inline in the last inlineGap, the
// others leave their frames to their writers, which batch them.
type InlineGate struct{ last atomic.Int64 }

func (g *InlineGate) open(now time.Duration) bool {
	return g == nil || now-time.Duration(g.last.Load()) >= inlineGap
}

func (g *InlineGate) wrote() {
	if g != nil {
		g.last.Store(int64(Now()))
	}
}

func (c *Conn) enqueue(frame []byte, shared bool, now time.Duration) error {
	c.mu.Lock()
	if c.closing || c.aborted {
		c.mu.Unlock()
		return message.ErrConnectionClosed
	}
	if c.queued > 0 && c.queued+len(frame) > c.cfg.MaxQueueBytes {
		c.wantDrain = true
		c.mu.Unlock()
		return message.ErrQueueFull
	}
	c.queued += len(frame)
	idle := !c.writing && c.queue.empty()
	quiet := now-c.lastEnqueue >= inlineGap && c.cfg.Inline.open(now)
	c.lastEnqueue = now
	if idle && quiet && c.raw != nil {
		c.writing = true
		c.mu.Unlock()
		c.writeInline(frame, shared)
		return nil
	}
	if shared {
		c.queue.share(frame)
	} else {
		c.queue.copyIn(frame)
	}
	c.mu.Unlock()
	if idle {
		signal(c.wake)
	}
	return nil
}

// writeInline makes one non-blocking attempt to write frame; whatever is
// left goes to the front of the queue for the writer.
func (c *Conn) writeInline(frame []byte, shared bool) {
	var n int
	var werr error
	err := c.raw.Write(func(fd uintptr) bool {
		n, werr = writeFD(fd, frame)
		return true // one attempt: never wait for the socket here
	})
	if err == nil && (werr == syscall.EAGAIN || werr == syscall.EINTR) {
		werr = nil
	}
	if err == nil {
		err = werr
	}
	n = max(n, 0)
	c.cfg.Inline.wrote()
	c.mu.Lock()
	c.writing = false
	c.writeIdle.Broadcast()
	c.queued -= n
	if err == nil && n < len(frame) {
		rest := frame[n:]
		if !shared {
			rest = bytes.Clone(rest)
		}
		c.queue.pushFront(rest)
	}
	if err != nil {
		c.unsent += len(frame) - n
		c.unsentMsgs++
		c.queued -= len(frame) - n
		c.setReasonLocked(err)
	}
	wakeWriter := !c.queue.empty() || c.closing || c.aborted
	drained := c.drainedLocked()
	c.mu.Unlock()
	if err != nil {
		c.fail(c.wrap("write", err))
		return
	}
	if wakeWriter {
		signal(c.wake)
	}
	if drained {
		c.postDrain()
	}
}

// drainedLocked reports, once, that a queue which refused a frame is empty
// again. Whoever finishes the last write (the writer, or a sender writing
// inline while another sender was refused) must ask.
func (c *Conn) drainedLocked() bool {
	if c.queued == 0 && c.wantDrain && !c.closing && !c.aborted {
		c.wantDrain = false
		return true
	}
	return false
}

func (c *Conn) postDrain() {
	if c.cfg.OnDrain != nil {
		c.cfg.Loop.Post(func() { c.cfg.OnDrain(c) })
	}
}

// Close ends the connection gracefully: no more frames are taken, what is
// queued is written, the write side is shut and the peer's end awaited. All
// of it is bounded by the flush timeout, after which the connection is
// dropped (UnsentBytes tells what was lost). Close does not wait; see Done.
func (c *Conn) Close() {
	c.mu.Lock()
	if c.closing || c.aborted {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.mu.Unlock()
	c.closingOnce.Do(func() { close(c.closingCh) })
	_ = c.nc.SetDeadline(time.Now().Add(c.cfg.FlushTimeout))
	signal(c.wake)
}

// Reject ends a connection whose peer misbehaves: as with Close, what was
// queued for the peer is still written (within the flush timeout), but
// its side is no longer read: what it had sent and we had not read yet is
// read and dropped by the caller, and its further writes fail.
func (c *Conn) Reject() {
	c.Close()
	_ = c.nc.CloseRead()
}

// Abort drops the connection at once, queue and all.
func (c *Conn) Abort() {
	c.mu.Lock()
	if !c.aborted {
		c.aborted = true
		// Bytes being written now are counted by their writer when its
		// write fails; these are the ones nobody will try.
		c.unsent += c.queue.bytes
		c.unsentMsgs += framesEnding(c.queue.segs, c.cfg.Framing.Delimiter())
		c.queued -= c.queue.bytes
		c.queue.drop()
	}
	c.mu.Unlock()
	c.stopOnce.Do(func() { close(c.stop) })
	c.closeSocket()
	signal(c.wake)
}

// Drop aborts the connection for reason (kept for Unsent) and returns how
// many accepted messages and bytes it discarded: it waits for a write in
// progress to end (closing the socket ends it at once), so the counts are
// final. It never waits for a listener.
func (c *Conn) Drop(reason error) (messages, bytes int) {
	c.mu.Lock()
	if c.dropReason == nil {
		c.dropReason = reason
	}
	c.mu.Unlock()
	c.Abort()
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.writing {
		c.writeIdle.Wait()
	}
	return c.unsentMsgs, c.unsent
}

func (c *Conn) setReasonLocked(err error) {
	if c.dropReason == nil {
		c.dropReason = err
	}
}

func (c *Conn) closeSocket() { c.closeFD.Do(func() { _ = c.nc.Close() }) }

func (c *Conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing || c.aborted
}

// fail reports err once (not for failures caused by our own close) and aborts.
func (c *Conn) fail(err error) {
	if !c.isClosing() {
		c.report(err)
	}
	c.Abort()
}

func (c *Conn) report(err error) {
	c.errOnce.Do(func() {
		if c.cfg.OnError != nil {
			c.cfg.Loop.Post(func() { c.cfg.OnError(c, err) })
		}
	})
}

func (c *Conn) readLoop() {
	defer close(c.readerDone)
	c.readerID = loop.GoroutineID()
	fr := message.NewFrameReader(c.source(), c.cfg.Framing, c.cfg.MaxFrameSize)
	defer fr.Release()
	defer c.unreserve()
	for {
		// Reserve before reading (or before taking frames already
		// buffered), holding no read buffer if we must wait. WaitReadable
		// gives the reservation back while it waits for input.
		if c.reserve(fr.Release) != nil {
			return
		}
		if c.raw == nil {
			c.armIdleTimer() // else WaitReadable arms it, as it starts to wait
		}
		frames, err := fr.Next()
		if len(frames) > 0 {
			c.handOver(frames)
		}
		if errors.Is(err, errStopped) {
			return // closing: as below, stop reading rather than wait
		}
		if err != nil {
			c.readFailed(err)
			return
		}
		if c.inflight.Load() > int64(c.cfg.ReadAhead) {
			fr.Release() // paused: hold no read buffer meanwhile
		}
		for c.inflight.Load() > int64(c.cfg.ReadAhead) {
			// While closing, the loop may be the one waiting for us (Close
			// called from a listener): stop reading rather than wait for it.
			select {
			case <-c.space:
			case <-c.stop:
				return
			case <-c.closingCh:
				return
			}
		}
	}
}

// armIdleTimer gives the peer IdleTimeout to send something, from now:
// the reader arms it each time it starts waiting for input, so a peer that
// keeps sending, even one slow frame, is never idle. Close's deadline,
// once set, is left alone.
func (c *Conn) armIdleTimer() {
	if c.cfg.IdleTimeout <= 0 {
		return
	}
	c.mu.Lock()
	if !c.closing && !c.aborted {
		_ = c.nc.SetReadDeadline(time.Now().Add(c.cfg.IdleTimeout))
	}
	c.mu.Unlock()
}

func (c *Conn) readFailed(err error) {
	var de *message.DecodeError
	switch {
	case c.cfg.IdleTimeout > 0 && errors.Is(err, os.ErrDeadlineExceeded) && !c.isClosing():
		c.report(c.wrap("read", fmt.Errorf("%w: nothing received for %v", ErrIdleTimeout, c.cfg.IdleTimeout)))
		c.Close()
	case errors.Is(err, io.EOF):
		// The peer ended its side: flush what we have for it and end ours.
		c.Close()
	case errors.As(err, &de):
		de.ClientID = c.cfg.ClientID
		c.report(de)
		if errors.Is(err, message.ErrFrameTooLarge) {
			c.Abort()
		} else {
			c.Close()
		}
	case c.isClosing() || errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrDeadlineExceeded):
		c.Abort()
	default:
		c.fail(c.wrap("read", err))
	}
}

func (c *Conn) wrap(op string, err error) error {
	var opErr *net.OpError
	if c.cfg.SocketFile != "" && errors.As(err, &opErr) {
		opErr.Source = c.LocalAddr() // a fresh error of ours: safe to edit
	}
	if c.cfg.ClientID != "" {
		return fmt.Errorf("socketipc: %s client %s: %w", op, c.cfg.ClientID, err)
	}
	return fmt.Errorf("socketipc: %s: %w", op, err)
}

// handOver copies a read's frames into one buffer the loop can keep, splits
// their envelopes here (off the loop) and posts them as one batch.
func (c *Conn) handOver(frames [][]byte) {
	total := 0
	for _, f := range frames {
		total += len(f)
	}
	arena := make([]byte, 0, total)
	extra := 0 // what the batch holds beyond its frames: topics made for it alone
	msgs := make([]Msg, len(frames))
	for i, f := range frames {
		start := len(arena)
		arena = append(arena, f...)
		m := &msgs[i]
		m.conn = c
		m.Frame = arena[start:len(arena):len(arena)]
		topic, payload, err := c.cfg.Transcoder.SplitEnvelope(m.Frame)
		if err != nil {
			m.Err = m.decodeError(err)
			continue
		}
		var uncached bool
		m.Topic, uncached = c.topics.intern(topic)
		if uncached {
			extra += topicCost(len(topic))
		}
		m.Payload = payload
	}
	// Count what the batch really holds: tiny frames cost more in Msg
	// structs than in bytes, and a topic the cache does not keep is held
	// twice more (Name and Event) while its message waits.
	n := int64(total + extra + len(msgs)*msgSize)
	c.inflight.Add(n)
	if b := c.cfg.ReadBudget; b != nil {
		b.add(n - c.reserved) // the reservation becomes the batch's real cost
		c.reserved = 0
	}
	ahead := c.preDecode(msgs)
	if ahead != 0 {
		c.inflight.Add(ahead) // the budget has it already
		n += ahead
	}
	deliver := func() {
		c.cfg.OnMessages(c, msgs)
		if b := c.cfg.ReadBudget; b != nil {
			b.release(n)
		}
		if c.inflight.Add(-n) <= int64(c.cfg.ReadAhead) {
			signal(c.space)
		}
	}
	c.cfg.Loop.Deliver(deliver, c.readerID)
}

func (c *Conn) writeLoop() {
	defer c.finish()
	for {
		c.mu.Lock()
		if c.aborted {
			c.mu.Unlock()
			return
		}
		if c.writing || c.queue.empty() {
			// Idle, or a sender is writing inline and will wake us.
			flushed := !c.writing && c.closing
			c.mu.Unlock()
			if flushed {
				break
			}
			select {
			case <-c.wake:
			case <-c.stop:
			}
			continue
		}
		segs, size := c.queue.take(c.spareSegs)
		c.spareSegs = nil
		c.writing = true
		c.mu.Unlock()

		bufs := net.Buffers(segs)
		written, err := bufs.WriteTo(c.nc)
		lost := 0
		if err != nil {
			// WriteTo leaves in bufs what it did not write.
			lost = framesEnding(bufs, c.cfg.Framing.Delimiter())
		}
		clear(segs)

		c.mu.Lock()
		c.writing = false
		c.writeIdle.Broadcast()
		c.spareSegs = segs[:0]
		if c.queue.empty() {
			c.queue.releaseChunk()
		}
		c.queued -= size
		if err != nil {
			c.unsent += size - int(written)
			c.unsentMsgs += lost
			c.setReasonLocked(c.wrap("write", err))
		}
		drained := c.drainedLocked()
		c.mu.Unlock()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				c.report(c.wrap("flush", fmt.Errorf("peer did not read within %v: %w", c.cfg.FlushTimeout, err)))
			}
			c.fail(c.wrap("write", err))
			return
		}
		if drained {
			c.postDrain()
		}
	}
	// Flushed: end our side and give the peer until the deadline to end theirs.
	_ = c.nc.CloseWrite()
	select {
	case <-c.readerDone:
	case <-c.stop:
	}
}

// finish runs once both directions are over.
func (c *Conn) finish() {
	c.closeSocket()
	c.stopOnce.Do(func() { close(c.stop) })
	<-c.readerDone
	if c.cfg.Ended != nil {
		c.cfg.Ended(c)
	}
	if c.cfg.OnClose != nil {
		c.cfg.Loop.Post(func() { c.cfg.OnClose(c) })
	}
	close(c.done)
	if c.cfg.Exited != nil {
		c.cfg.Exited()
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
