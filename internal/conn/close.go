package conn

import (
	"time"
)

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
	c.mu.Lock()
	c.kickWriterLocked() // the writer flushes, then ends the connection
	c.mu.Unlock()
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
	c.mu.Lock()
	c.kickWriterLocked() // the writer ends the connection
	c.mu.Unlock()
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
