//go:build linux

package reliability_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	slowMaxQueue = 1 << 20 // the server's MaxQueueBytes in this test
	slowMsgSize  = 1 << 10 // bytes of payload per broadcast
	slowFast     = 3       // fast clients
	// slowWindow is how many broadcasts the broadcaster lets the slowest
	// fast client fall behind: it paces itself on the fast clients (well
	// under their queue limit), never on the slow one.
	slowWindow = 256
	// slowHeapBound is how much the test process's heap may grow over its
	// settled size while the slow client's phase runs: the slow queue (its
	// limit, 1 MiB, in a buffer that may be twice that), the fast clients'
	// queues and read-ahead, and garbage the collector has not reclaimed.
	slowHeapBound = 24 << 20
)

// bcastPayload is broadcast number n: its number, then padding.
func bcastPayload(n int) string {
	s := fmt.Sprintf("%010d:", n)
	return s + strings.Repeat("b", slowMsgSize-len(s))
}

// bcastNumber reads the number back from a payload's JSON ("0000000123:bbb...").
func bcastNumber(raw []byte) (int, bool) {
	if len(raw) < 12 || raw[0] != '"' {
		return 0, false
	}
	n, err := strconv.Atoi(string(raw[1:11]))
	return n, err == nil
}

// fastClient counts the broadcasts it receives and checks their order.
type fastClient struct {
	cli      *client.Client
	got      atomic.Int64 // broadcasts received
	next     int          // the number expected next (on the client's loop)
	disorder atomic.Int64
}

// A slow client (a raw socket that never reads) beside fast ones: a
// broadcast loop paced on the fast clients runs about as fast with the slow
// one connected as without it, and never blocks; the slow one's queue fills
// and each broadcast it misses is reported (a *message.SendError whose
// Missed is exactly its id), while the fast ones miss nothing; the server's
// memory stays bounded however much is broadcast; and once the slow client
// reads, it gets exactly the broadcasts that were not reported missed, in
// order.
func TestSlowClient(t *testing.T) {
	leakcheck.Check(t)
	// Bytes broadcast per phase: each more than the heap may grow by, so
	// an unbounded slow queue would fail the memory check.
	perPhase := pick(48<<20, 128<<20) / slowMsgSize
	if raceEnabled && !long() {
		perPhase = (32 << 20) / slowMsgSize
	}
	sock := testsock.Path(t)
	srv, err := server.New(server.Options{SocketFile: sock, MaxQueueBytes: slowMaxQueue})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	log := eventlog.Record(srv, "connection", "connectionClose", "drain")
	var otherErrs []error
	var errMu sync.Mutex
	srv.On("error", func(err error) {
		var se *message.SendError
		if errors.As(err, &se) && len(se.Missed) > 0 {
			return // Broadcast returns it too; checked there
		}
		errMu.Lock()
		otherErrs = append(otherErrs, err)
		errMu.Unlock()
	})
	require.NoError(t, srv.Listen())

	progress := make(chan struct{}, 1)
	fast := make([]*fastClient, slowFast)
	for i := range fast {
		cli, err := client.New(client.Options{SocketFile: sock})
		require.NoError(t, err)
		t.Cleanup(func() { _ = cli.Close() })
		f := &fastClient{cli: cli}
		cli.On("message.b", func(raw json.RawMessage) {
			if n, ok := bcastNumber(raw); !ok || n != f.next {
				f.disorder.Add(1)
			} else {
				f.next++
			}
			f.got.Add(1)
			signal(progress)
		})
		cli.On("error", func(err error) { t.Errorf("fast client %d: %v", i, err) })
		require.NoError(t, cli.Connect())
		fast[i] = f
		log.Wait(t, "connection")
	}
	minFast := func() int64 {
		least := fast[0].got.Load()
		for _, f := range fast[1:] {
			least = min(least, f.got.Load())
		}
		return least
	}

	// broadcast sends numbers from..to-1, paced on the fast clients. It
	// returns the numbers the slow client missed and the longest Broadcast call.
	var accepted int64 // deliveries accepted: clients per broadcast, minus those that missed it
	broadcast := func(from, to int, slowID string) (missed map[int]bool, longest time.Duration) {
		missed = map[int]bool{}
		for n := from; n < to; n++ {
			if int64(n)-minFast() > slowWindow {
				deadline := time.Now().Add(10 * time.Second)
				for int64(n)-minFast() > slowWindow {
					if time.Now().After(deadline) {
						t.Fatalf("the fast clients fell behind for 10s at broadcast %d (they have %d)", n, minFast())
					}
					await(progress, nil, 100*time.Millisecond)
				}
			}
			begin := time.Now()
			err := srv.Broadcast("b", bcastPayload(n))
			longest = max(longest, time.Since(begin))
			targets := slowFast
			if slowID != "" {
				targets++
			}
			if err == nil {
				accepted += int64(targets)
				continue
			}
			// Checked without testify here: its bookkeeping per call would
			// slow this phase down more than the slow client does.
			var se *message.SendError
			if !errors.As(err, &se) || !errors.Is(err, message.ErrQueueFull) || len(se.Missed) != 1 || se.Missed[0] != slowID {
				t.Fatalf("broadcast %d: %v; want a SendError with ErrQueueFull missing only the slow client %s", n, err, slowID)
			}
			missed[n] = true
			accepted += int64(targets - len(se.Missed))
		}
		waitUntil(t, "the fast clients to receive every broadcast", 30*time.Second, func() bool { return minFast() == int64(to) })
		return missed, longest
	}

	// Phase 1: the fast clients alone, to know their speed.
	start := time.Now()
	t0 := time.Now()
	_, longest1 := broadcast(0, perPhase, "")
	d1 := time.Since(t0)

	// Phase 2: the same with a slow client connected, which never reads.
	nc, err := net.Dial("unix", sock)
	require.NoError(t, err)
	slow := nc.(*net.UnixConn)
	t.Cleanup(func() { slow.Close() })
	slowID := log.Wait(t, "connection").Arg(0).(string)
	base := settledHeap()
	heap := sampleHeap()
	t0 = time.Now()
	missed, longest2 := broadcast(perPhase, 2*perPhase, slowID)
	d2 := time.Since(t0)
	peak := heap.Stop()

	t.Logf("the slow client missed %d of %d broadcasts; heap %s settled, peak %s while broadcasting %s",
		len(missed), perPhase, mib(base), mib(peak), mib(uint64(perPhase*slowMsgSize)))

	// The slow client's queue filled, and the overflow was reported; the
	// fast clients missed nothing and got everything in order.
	assert.NotEmpty(t, missed, "the slow client's queue never filled")
	assert.Greater(t, len(missed), perPhase/2, "the slow client missed most broadcasts")
	cn := srv.Conn(slowID)
	require.NotNil(t, cn, "a slow client is kept by default")
	assert.LessOrEqual(t, cn.QueuedBytes(), slowMaxQueue)
	for i, f := range fast {
		assert.Zero(t, f.disorder.Load(), "fast client %d: broadcasts out of order", i)
	}
	assert.Less(t, longest2, time.Second, "a Broadcast call blocked")
	// Memory: bounded by the queue limits, not by what was broadcast.
	assert.Less(t, peak, base+slowHeapBound, "heap grew with the broadcasts")
	errMu.Lock()
	assert.Empty(t, otherErrs, "unexpected server errors")
	errMu.Unlock()

	// Now the slow client reads: it gets every broadcast of phase 2 that
	// was not reported missed, in order, and nothing else.
	want := perPhase - len(missed)
	fr := message.NewFrameReader(slow, message.Framing{}, 0)
	var got []int
	var bad []string
	for len(got) < want && len(bad) == 0 {
		require.NoError(t, slow.SetReadDeadline(time.Now().Add(10*time.Second)))
		frames, err := fr.Next()
		for _, f := range frames {
			i := bytes.Index(f, []byte(`"message":`))
			n, ok := 0, i >= 0
			if ok {
				n, ok = bcastNumber(f[i+len(`"message":`):])
			}
			if !ok {
				bad = append(bad, string(f[:min(len(f), 60)]))
				continue
			}
			got = append(got, n)
		}
		require.NoError(t, err, "the slow client reading what it was sent (%d of %d)", len(got), want)
	}
	require.Empty(t, bad, "the slow client got frames it should not have")
	prev := perPhase - 1
	disorder := 0
	for _, n := range got {
		if n <= prev || missed[n] {
			disorder++
		}
		for m := prev + 1; m < n; m++ {
			assert.True(t, missed[m], "broadcast %d was neither delivered to the slow client nor reported missed", m)
		}
		prev = n
	}
	assert.Zero(t, disorder, "the slow client got broadcasts twice, out of order, or reported missed")
	assert.Equal(t, []any{slowID}, log.Wait(t, "drain").Args, "a drain once the slow client read its queue")
	require.NoError(t, slow.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
	frames, _ := fr.Next()
	assert.Empty(t, frames, "the slow client got more than it was sent")

	// Phase 3: the fast clients alone again (half as much), so that the
	// speed alone is measured on both sides of phase 2 on a machine whose
	// load varies.
	require.NoError(t, slow.Close())
	waitUntil(t, "connectionClose of the slow client", eventlog.Timeout, func() bool { return srv.Conn(slowID) == nil })
	t0 = time.Now()
	_, longest3 := broadcast(2*perPhase, 2*perPhase+perPhase/2, "")
	d3 := time.Since(t0)
	alone := time.Duration(float64(d1+d3) / 1.5) // for perPhase broadcasts
	rate := func(d time.Duration) float64 { return float64(perPhase*slowMsgSize) / (1 << 20) / d.Seconds() }
	t.Logf("%d broadcasts of %d B per phase to %d fast clients: alone %v (%.0f MiB/s each), beside a slow client %v (%.0f MiB/s each); longest Broadcast call %v / %v / %v",
		perPhase, slowMsgSize, slowFast, alone.Round(time.Millisecond), rate(alone), d2.Round(time.Millisecond), rate(d2), longest1, longest2, longest3)
	// Full speed: the slow client costs the broadcast loop little (a
	// refused enqueue and an error event per broadcast); allow for a busy machine.
	assert.Less(t, d2, 3*alone+time.Second, "the broadcast loop slowed down beside the slow client")

	var received int64
	for _, f := range fast {
		received += f.got.Load()
	}
	received += int64(len(got))
	var dup int64
	for _, f := range fast {
		dup += f.disorder.Load()
	}
	dup += int64(disorder)
	report(t, result{
		Scenario: "slow client", Sent: accepted, Received: received, Lost: accepted - received, Duplicated: dup,
		PeakMem: peak, MemKind: "HeapInuse, test process (server and clients)", Seconds: time.Since(start).Seconds(),
		Notes: fmt.Sprintf("%s broadcast beside the slow client to %d fast clients, at %.0f MiB/s each (alone, before and after: %.0f MiB/s); the slow client missed %d of %d broadcasts, each reported in SendError.Missed; its queue limit %s",
			mib(uint64(perPhase*slowMsgSize)), slowFast, rate(d2), rate(alone), len(missed), perPhase, mib(slowMaxQueue)),
	})
}
