package conn

import (
	"net"
	"sync"
	"sync/atomic"
)

// Traffic is what one connection moved, or all the connections of an
// owner together.
type Traffic struct {
	MessagesIn   uint64 // valid frames read
	BytesIn      uint64 // bytes of the frames read, valid or not, delimiters included
	MessagesOut  uint64 // frames accepted by the send queue
	BytesOut     uint64 // their bytes, delimiters included
	QueueFull    uint64 // frames the send queue refused (message.ErrQueueFull)
	DecodeErrors uint64 // malformed frames read, and frames over MaxFrameSize
}

func (t *Traffic) add(o Traffic) {
	t.MessagesIn += o.MessagesIn
	t.BytesIn += o.BytesIn
	t.MessagesOut += o.MessagesOut
	t.BytesOut += o.BytesOut
	t.QueueFull += o.QueueFull
	t.DecodeErrors += o.DecodeErrors
}

// connStats are one connection's counters. Each side counts with no lock
// or contention of its own: the reader adds once per read's batch to
// atomics (delivery corrects them for a frame it finds malformed, which
// the reader did not check: Msg.Check); the senders count under the mutex enqueue takes
// anyway. Readers of the counters (Tally) are rare.
type connStats struct {
	msgsIn, bytesIn, badIn atomic.Uint64 // written by the reader, and by Msg.Check

	// guarded by Conn.mu
	msgsOut, bytesOut, queueFull uint64
}

// received counts one read's batch: msgs valid frames, bad malformed ones,
// n bytes in all (frames and delimiters).
func (s *connStats) received(msgs, bad, n int) {
	s.msgsIn.Add(uint64(msgs))
	s.bytesIn.Add(uint64(n))
	if bad > 0 {
		s.badIn.Add(uint64(bad))
	}
}

// foundMalformed moves a frame that the reader counted as a message to the
// malformed ones, when delivery finds it was (see Msg.Check).
func (s *connStats) foundMalformed() {
	s.msgsIn.Add(^uint64(0))
	s.badIn.Add(1)
}

// sentLocked counts a frame the queue took; Conn.mu is held.
func (s *connStats) sentLocked(n int) {
	s.msgsOut++
	s.bytesOut += uint64(n)
}

// Traffic is what the connection has moved so far.
func (c *Conn) Traffic() Traffic {
	c.mu.Lock()
	t := Traffic{MessagesOut: c.stats.msgsOut, BytesOut: c.stats.bytesOut, QueueFull: c.stats.queueFull}
	c.mu.Unlock()
	t.MessagesIn = c.stats.msgsIn.Load()
	t.BytesIn = c.stats.bytesIn.Load()
	t.DecodeErrors = c.stats.badIn.Load()
	return t
}

// RemoteAddr is the peer's address (on a client, the server's socket file).
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Tally adds up the traffic of an owner's connections: the live ones, read
// when asked, and what the ended ones moved. The zero Tally is ready.
type Tally struct {
	mu     sync.Mutex
	live   map[*Conn]struct{}
	ended  Traffic
	opened uint64
}

// Open counts c as opened and adds it to the live connections. The owner
// calls it once c is its own, before Run; Close must follow once c ends.
func (t *Tally) Open(c *Conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.live == nil {
		t.live = make(map[*Conn]struct{})
	}
	t.live[c] = struct{}{}
	t.opened++
}

// Close moves an ended connection's traffic, final once both of its
// goroutines are done, to the ended total and returns it. It does nothing
// for a connection that is not live (never opened, or closed already).
func (t *Tally) Close(c *Conn) (Traffic, bool) {
	tr := c.Traffic()
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.live[c]; !ok {
		return Traffic{}, false
	}
	delete(t.live, c)
	t.ended.add(tr)
	return tr, true
}

// Snapshot returns the traffic of all the connections ever opened, how
// many are live, and how many were opened.
func (t *Tally) Snapshot() (total Traffic, live int, opened uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	total = t.ended
	for c := range t.live {
		total.add(c.Traffic())
	}
	return total, len(t.live), t.opened
}
