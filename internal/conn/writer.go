package conn

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/socketipc/socketipc/message"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

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
//
// The connection that wrote last is not held back by its own write: its
// own pace is judged by its previous send (Conn.lastEnqueue). Otherwise a
// reply that comes back while the request's write is still returning (the
// peer, woken by the write, may run first) closed the gate on the next
// request, handing it to the writer goroutine: a wake-up of another
// thread on a round trip that needs none.
type InlineGate struct {
	last atomic.Int64
	who  atomic.Pointer[Conn]
}

func (g *InlineGate) open(c *Conn, now time.Duration) bool {
	return g == nil || g.who.Load() == c || now-time.Duration(g.last.Load()) >= inlineGap
}

func (g *InlineGate) wrote(c *Conn) {
	if g != nil {
		g.last.Store(int64(Now()))
		g.who.Store(c)
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
		c.stats.queueFull++
		c.mu.Unlock()
		return message.ErrQueueFull
	}
	c.queued += len(frame)
	c.stats.sentLocked(len(frame))
	idle := !c.writing && c.queue.empty()
	quiet := now-c.lastEnqueue >= inlineGap && c.cfg.Inline.open(c, now)
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
	if idle {
		c.kickWriterLocked()
	}
	c.mu.Unlock()
	return nil
}

// kickWriterLocked gets the writer going: it starts one if none runs (an
// idle connection has none), else wakes it. c.mu is held.
func (c *Conn) kickWriterLocked() {
	if !c.writerOn {
		c.writerOn = true
		go c.writeLoop()
		return
	}
	signal(c.wake)
}

// enqueueAround queues one frame made of three parts: head and tail are
// copied, body is referenced (it must never change). It is left to the
// writer, which writes the parts in one writev. Errors as for Enqueue.
func (c *Conn) enqueueAround(head, body, tail []byte) error {
	size := len(head) + len(body) + len(tail)
	c.mu.Lock()
	if c.closing || c.aborted {
		c.mu.Unlock()
		return message.ErrConnectionClosed
	}
	if c.queued > 0 && c.queued+size > c.cfg.MaxQueueBytes {
		c.wantDrain = true
		c.stats.queueFull++
		c.mu.Unlock()
		return message.ErrQueueFull
	}
	c.queued += size
	c.stats.sentLocked(size)
	idle := !c.writing && c.queue.empty()
	c.lastEnqueue = Now()
	c.queue.copyIn(head)
	c.queue.share(body)
	c.queue.copyIn(tail)
	if idle {
		c.kickWriterLocked()
	}
	c.mu.Unlock()
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
	c.cfg.Inline.wrote(c)
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
	if !c.queue.empty() || c.closing || c.aborted {
		c.kickWriterLocked()
	}
	drained := c.drainedLocked()
	c.mu.Unlock()
	if err != nil {
		c.fail(c.wrap("write", err))
		return
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

// writeLoop is the writer: it runs while the connection has something to
// write (kickWriterLocked starts it), so an idle connection has no writer
// goroutine, and it ends the connection once it is closed or aborted.
func (c *Conn) writeLoop() {
	if c.write() {
		c.finish()
	}
}

// write writes what is queued until the queue is empty (then it returns
// false, the writer gone) or the connection has ended, flushed or
// aborted (true).
func (c *Conn) write() (ended bool) {
	for {
		c.mu.Lock()
		if c.aborted {
			c.mu.Unlock()
			return true
		}
		if c.writing || c.queue.empty() {
			// Nothing to write, or a sender is writing inline and will
			// kick us when it is done.
			flushed := !c.writing && c.closing
			idle := !c.writing && !c.closing
			if idle {
				c.writerOn = false // the next frame starts a writer again
			}
			c.mu.Unlock()
			if flushed {
				break
			}
			if idle {
				return false
			}
			select {
			case <-c.wake:
			case <-c.stop:
			}
			continue
		}
		segs, size, retired := c.queue.take(c.spareSegs, c.spareRetired)
		c.spareSegs, c.spareRetired = nil, nil
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
		if err == nil {
			retired = recycle(retired)
		} else {
			clear(retired) // unwritten frames may still be in them: leave them to the GC
			retired = retired[:0]
		}

		c.mu.Lock()
		c.writing = false
		c.writeIdle.Broadcast()
		c.spareSegs, c.spareRetired = segs[:0], retired
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
			return true
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
	return true
}
