package conn

import (
	"errors"
	"fmt"
	"github.com/socketipc/socketipc/internal/loop"
	"github.com/socketipc/socketipc/message"
	"io"
	"net"
	"os"
	"time"
)

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
			c.handOver(frames, fr)
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
		c.stats.badIn.Add(1)
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

// keepInPlace: a read's frames adding up to this much are worth keeping in
// the FrameReader's buffer rather than copying (see FrameReader.Keep).
// Smaller ones are copied: the FrameReader then reuses its buffer, where
// keeping it would cost a fresh (zeroed) one for every frame.
const keepInPlace = 256 << 10

// handOver copies a read's frames into one buffer the loop can keep, splits
// their envelopes here (off the loop) and posts them as one batch. The
// batch's Msgs come from a pool and go back to it once delivered: nothing
// keeps a Msg past its delivery (a listener that asks for the Payload
// itself gets a copy, see Msg.Retained). The frames' bytes are never
// reused: json.RawMessage listeners and replies may keep views of them.
func (c *Conn) handOver(frames [][]byte, fr *message.FrameReader) {
	total := 0
	for _, f := range frames {
		total += len(f)
	}
	// Large frames are kept where they were read, in a buffer that grew
	// for them (then held is its size), rather than copied.
	held := 0
	if total >= keepInPlace {
		held = fr.Keep()
	}
	var arena []byte
	if held == 0 {
		arena = make([]byte, 0, total)
		held = total
	}
	extra := 0 // what the batch holds beyond its frames: topics made for it alone
	batch := getMsgs(len(frames))
	msgs := *batch
	bad := 0
	quick := c.quickCutPays()
	for i, f := range frames {
		m := &msgs[i]
		m.from = &c.origin
		if arena != nil {
			start := len(arena)
			arena = append(arena, f...)
			f = arena[start:len(arena):len(arena)]
		}
		m.Frame = f
		if quick {
			if n, ok := c.cutQuickly(m); ok {
				extra += n
				continue
			}
		}
		topic, payload, err := c.cfg.Transcoder.SplitEnvelope(f)
		if err != nil {
			m.Err = m.decodeError(err)
			bad++
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
	c.stats.received(len(msgs)-bad, bad, total+len(msgs)*len(c.cfg.Framing.Delimiter()))
	n := int64(held + extra + cap(msgs)*msgSize)
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
		putMsgs(batch)
		if b := c.cfg.ReadBudget; b != nil {
			b.release(n)
		}
		if c.inflight.Add(-n) <= int64(c.cfg.ReadAhead) {
			signal(c.space)
		}
	}
	c.cfg.Loop.Deliver(deliver, c.readerID)
}
