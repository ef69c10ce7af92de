package conn

import (
	"testing"
	"time"

	"github.com/socketipc/socketipc/internal/loop"
)

func queuedFrames(c *Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.queue.empty()
}

// The shared inline gate holds back the other connections of an owner that
// just wrote inline, not the connection that wrote: a request whose reply
// came back before its own write had returned is followed by the next
// request written inline too, with no hand-off to the writer goroutine.
func TestInlineGateHoldsBackOnlyOtherConnections(t *testing.T) {
	gate := new(InlineGate)
	cfg := Config{Loop: loop.New(), Inline: gate, OnMessages: func(*Conn, []Msg) {}}
	a, b := New(acceptedEnd(t), cfg), New(acceptedEnd(t), cfg)
	frame := []byte(`{"topic":"t"}` + "\x00\x00")

	t0 := Now() + time.Second
	if err := a.enqueue(frame, false, t0); err != nil {
		t.Fatal(err)
	}
	if queuedFrames(a) {
		t.Fatal("a send to a quiet, idle connection was queued, not written inline")
	}
	// a's write ended 100µs after it began (its peer ran first); the next
	// request on a comes 2µs later, 102µs after the previous one began.
	gate.last.Store(int64(t0 + 100*time.Microsecond))
	if err := a.enqueue(frame, false, t0+102*time.Microsecond); err != nil {
		t.Fatal(err)
	}
	if queuedFrames(a) {
		t.Fatal("the connection that wrote last was held back by its own write")
	}
	// Another connection of the same owner, 1µs after a's last inline write.
	gate.last.Store(int64(t0 + 102*time.Microsecond))
	if err := b.enqueue(frame, false, t0+103*time.Microsecond); err != nil {
		t.Fatal(err)
	}
	if !queuedFrames(b) {
		t.Fatal("another connection wrote inline right after a's inline write: the gate is open")
	}
}
