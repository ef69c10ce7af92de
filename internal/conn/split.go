package conn

import (
	"reflect"
	"sync/atomic"

	"github.com/socketipc/socketipc/message"
)

// Splitting a batch: when the loop is idle, the reader delivers its batch
// itself (Loop.Deliver), so reading, decoding and the listeners run on one
// goroutine while the second core waits. For a batch with enough to decode,
// the reader starts a helper goroutine that decodes the second part of the
// batch ahead (into preSlots, as preDecode does) while the reader delivers
// the first part, decoding on delivery as usual. Having delivered the first
// part, the reader decodes what the helper has not claimed yet, waits for
// the helper's last payload, and delivers the second part. Delivery stays
// serial and ordered; the helper only fills a cache keyed by type, so
// listeners get exactly what decoding on delivery gives (errors included:
// a decode error is never served from the cache, see Msg.take's callers).
//
// The helper belongs to the batch: it decodes at most the batch's second
// part and ends; the batch's delivery waits for it (or, if it has not
// started yet, tells it not to), and the reader waits for every helper
// it started before it ends (Conn.helpers), so a closed connection leaves
// nothing running. Its values are charged to a window taken from the read
// budget, as preDecode's are.

// splitMinBytes: a batch whose payloads to decode add up to less is not
// split. Starting the helper (a goroutine, and a wake-up of the idle core)
// costs a few microseconds; BenchmarkSplitDecode measured where splitting
// begins to pay.
var splitMinBytes = 8 << 10

// splitOff turns splitting off, for tests and benchmarks that compare;
// splitsStarted counts the helpers started, for tests.
var (
	splitOff      bool
	splitsStarted atomic.Int64
)

const (
	helperWaiting = iota // not started yet
	helperRunning
	helperDropped // the batch no longer wants it: it returns at once
)

// split is one batch's second part, decoded by a helper.
type split struct {
	msgs   []Msg     // the batch from its second part on
	slots  []preSlot // one per msgs; typ nil: nothing to decode
	next   atomic.Int64
	held   atomic.Int64 // what the decoded values hold, bounded by window
	window int64
	state  atomic.Int32
	done   chan struct{} // closed by a helper that ran, when it has finished
}

// splitBatch starts a helper decoding the second part of msgs, from the
// index it returns, if msgs has enough to decode and the budget gives a
// window; otherwise it returns nil. Only while nobody is delivering: else
// preDecode overlaps with the delivery instead.
func (c *Conn) splitBatch(msgs []Msg) (*split, int) {
	if c.cfg.DecodeType == nil || c.cfg.Transcoder != message.JSON || decodeAheadOff || splitOff ||
		len(msgs) < 2 || c.cfg.Loop.Delivering() {
		return nil, 0
	}
	types := aheadTypes{c: c}
	total := 0
	for i := range msgs {
		if t, _ := types.of(&msgs[i]); t != nil {
			total += len(msgs[i].Payload)
		}
	}
	if total < splitMinBytes {
		return nil, 0
	}
	// The second part starts at the payload to decode that follows the
	// first half of the bytes: a message, not a malformed frame, so that
	// no run of malformed frames is cut in two.
	from, first := -1, 0
	for i := range msgs {
		t, _ := types.of(&msgs[i])
		if t == nil {
			continue
		}
		if first >= total/2 {
			from = i
			break
		}
		first += len(msgs[i].Payload)
	}
	if from < 0 || !c.takeWindow(preDecodeWindow) {
		return nil, 0
	}
	s := &split{msgs: msgs[from:], slots: make([]preSlot, len(msgs)-from), window: preDecodeWindow, done: make(chan struct{})}
	s.held.Store(int64(len(s.slots)) * preSlotSize)
	for i := range s.msgs {
		s.slots[i].typ, _ = types.of(&s.msgs[i])
	}
	c.helpers.Add(1)
	splitsStarted.Add(1)
	go func() {
		defer c.helpers.Done()
		if s.state.CompareAndSwap(helperWaiting, helperRunning) {
			s.decode()
			close(s.done)
		}
	}()
	return s, from
}

// decode decodes the payloads nobody has claimed yet, one at a time, each
// only if its worst case fits what is left of the window.
func (s *split) decode() {
	var (
		lastType reflect.Type
		dc       decodeCost
	)
	for {
		i := int(s.next.Add(1) - 1)
		if i >= len(s.slots) {
			return
		}
		slot := &s.slots[i]
		if slot.typ == nil {
			continue
		}
		if slot.typ != lastType {
			lastType, dc = slot.typ, decodeCostOf(slot.typ)
		}
		m := &s.msgs[i]
		worst := dc.fixed + dc.perByte*int64(len(m.Payload))
		if s.held.Add(worst) > s.window {
			s.held.Add(-worst) // decoded on delivery instead
			continue
		}
		s.held.Add(min(worst, slot.decode(m.Payload)) - worst)
		m.pre = slot
		decodedAhead.Add(1)
	}
}

// join decodes what the helper has not claimed, waits for the helper if it
// started, and returns what the decoded values hold (the rest of the
// window is the caller's to give back). It runs on whoever delivers the
// batch, before the second part is delivered.
func (s *split) join() int64 {
	s.decode()
	if !s.state.CompareAndSwap(helperWaiting, helperDropped) {
		<-s.done
	}
	return s.held.Load()
}

// deliverSplit delivers msgs, split at from, and returns the part of the
// window it gave back once the second part was decoded.
func (c *Conn) deliverSplit(msgs []Msg, second *split, from int) (unused int64) {
	c.cfg.OnMessages(c, msgs[:from])
	unused = second.window - second.join()
	c.giveBackWindow(unused)
	c.inflight.Add(-unused)
	c.cfg.OnMessages(c, msgs[from:])
	return unused
}
