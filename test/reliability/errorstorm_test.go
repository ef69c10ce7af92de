//go:build linux

package reliability_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	stormMaxQueue = 1 << 20 // the server's MaxQueueBytes: as in the hostile-peer report
	stormFlush    = 500 * time.Millisecond
	stormListener = 100 * time.Microsecond // what each error event costs its listener
	// stormHeapBound is how much the heap may grow over its settled size
	// during the storm: the slow client's queue (1 MiB), the frames being
	// encoded, and garbage not yet collected. Queuing an event per failure
	// grew it by hundreds of MiB within a second.
	stormHeapBound = 32 << 20
)

// TestErrorStorm: a client that never reads, a loop that broadcasts to it
// as fast as it can (each broadcast fails: its queue is full), and error
// events that are slow to handle: a listener taking 100 µs each, or, with
// no listener, the logger. Every broadcast returns its error; the events
// are folded (message.RepeatedError) so they never queue without bound,
// memory stays flat, and Close returns within its flush timeout. With no
// listener, the returned errors are not logged (the callers have them).
func TestErrorStorm(t *testing.T) {
	for _, handler := range []string{"listener", "logger"} {
		t.Run(handler, func(t *testing.T) { errorStorm(t, handler) })
	}
}

func errorStorm(t *testing.T, handler string) {
	leakcheck.Check(t)
	storm := pick(time.Second, 5*time.Second)
	var events, counted atomic.Int64 // error events, and the failures they stand for
	count := func(err error) {
		var se *message.SendError
		if !errors.As(err, &se) {
			return // Close's report of what it could not flush
		}
		events.Add(1)
		var rep *message.RepeatedError
		if errors.As(err, &rep) {
			counted.Add(int64(rep.Count))
		} else {
			counted.Add(1)
		}
	}
	opts := server.Options{SocketFile: testsock.Path(t), MaxQueueBytes: stormMaxQueue, FlushTimeout: stormFlush}
	if handler == "logger" {
		opts.Logger = slog.New(countingLog{slog.NewTextHandler(io.Discard, nil), count})
	}
	srv, err := server.New(opts)
	require.NoError(t, err)
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = srv.Close()
		}
	})
	if handler == "listener" {
		srv.On("error", func(err error) {
			count(err)
			for t0 := time.Now(); time.Since(t0) < stormListener; {
				// a listener that does real work
			}
		})
	}
	connected := make(chan struct{}, 1)
	srv.On("connection", func() { connected <- struct{}{} })
	require.NoError(t, srv.Listen())
	nc, err := net.Dial("unix", opts.SocketFile) // never reads
	require.NoError(t, err)
	defer nc.Close()
	select {
	case <-connected:
	case <-time.After(eventlog.Timeout):
		t.Fatal("no connection")
	}

	payload := strings.Repeat("e", 1<<10)
	base := settledHeap()
	heap := sampleHeap()
	start := time.Now()
	var failed, accepted int64
	for time.Since(start) < storm {
		for range 1000 {
			err := srv.Broadcast("storm", payload)
			if err == nil {
				accepted++
				continue
			}
			require.ErrorIs(t, err, message.ErrQueueFull, "each broadcast returns its own error")
			failed++
		}
	}
	stormTime := time.Since(start)
	closeStart := time.Now()
	require.Error(t, srv.Close(), "what the client never read is reported")
	closeTime := time.Since(closeStart)
	closed = true
	peak := heap.Stop()

	require.Positive(t, failed)
	if handler == "logger" {
		// Each failure was returned to its caller: none is logged as well.
		assert.Zero(t, counted.Load(), "returned errors are not logged")
	} else {
		assert.Equal(t, failed, counted.Load(), "every failure is counted in an error event")
	}
	assert.Less(t, peak-min(peak, base), uint64(stormHeapBound), "heap growth during the storm")
	folded := counted.Load() - events.Load()
	// Received: failures that reached someone. With a listener, counted in
	// its events; with none, each was returned to its caller and none logged.
	received := counted.Load()
	if handler == "logger" {
		received = failed
	}
	report(t, result{
		Scenario: "error storm (" + handler + ")", Sent: failed, Received: received, Lost: failed - received,
		PeakMem: peak, MemKind: "HeapInuse, test process", Seconds: stormTime.Seconds() + closeTime.Seconds(),
		Notes: fmt.Sprintf("%s broadcasts in %.1f s to a client that never reads (MaxQueueBytes %s), %s accepted before its queue filled; each failure returned its error (sent = failures; received = failures counted in error events, or with no listener returned to their callers); errors handled by %s: %s events emitted, %s failures folded into them (message.RepeatedError); heap %s before, peak %s; Close returned %d ms after the storm (FlushTimeout %d ms)",
			count3(failed+accepted), stormTime.Seconds(), mib(stormMaxQueue), count3(accepted), handlerName(handler), count3(events.Load()), count3(folded),
			mib(base), mib(peak), closeTime.Milliseconds(), stormFlush.Milliseconds()),
	})
}

func handlerName(h string) string {
	if h == "listener" {
		return "a listener taking 100 µs per event"
	}
	return "the logger (no error listener; slog text to io.Discard), which logs none of these returned errors"
}

// count3 writes n with thousands separators.
func count3(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// countingLog passes each logged error to count, then logs it.
type countingLog struct {
	slog.Handler
	count func(error)
}

func (h countingLog) Handle(ctx context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok {
			h.count(err)
		}
		return true
	})
	return h.Handler.Handle(ctx, r)
}
