//go:build linux

package reliability_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/conn"
	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// healthy is a well-behaved client that plays ping-pong with the server
// for the whole test: each ping waits for its pong.
type healthy struct {
	cli    *client.Client
	pongs  atomic.Int64
	bad    atomic.Int64 // a pong that was not the one expected
	pinged int64
	got    chan struct{}
}

func startHealthy(t *testing.T, sock string) *healthy {
	t.Helper()
	cli, err := client.New(client.Options{SocketFile: sock})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Close() })
	h := &healthy{cli: cli, got: make(chan struct{}, 1)}
	cli.On("message.pong", func(n int64) {
		if n != h.pongs.Load() {
			h.bad.Add(1)
		}
		h.pongs.Add(1)
		signal(h.got)
	})
	cli.On("error", func(err error) { t.Errorf("healthy client: %v", err) })
	connected := make(chan struct{})
	cli.Once("connect", func() { close(connected) })
	require.NoError(t, cli.Connect())
	select {
	case <-connected:
	case <-time.After(eventlog.Timeout):
		t.Fatal("the healthy client did not connect")
	}
	return h
}

// run pings until stop, one ping in flight at a time.
func (h *healthy) run(t *testing.T, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		if err := h.cli.Send("ping", h.pinged); err != nil {
			t.Errorf("healthy client: ping %d: %v", h.pinged, err)
			return
		}
		h.pinged++
		deadline := time.Now().Add(eventlog.Timeout)
		for h.pongs.Load() < h.pinged {
			if time.Now().After(deadline) {
				t.Errorf("healthy client: no pong for ping %d within %v", h.pinged-1, eventlog.Timeout)
				return
			}
			await(h.got, nil, 100*time.Millisecond)
		}
	}
}

// expectProgress waits until the healthy client has had n more pongs.
func (h *healthy) expectProgress(t *testing.T, n int64, what string) {
	t.Helper()
	want := h.pongs.Load() + n
	waitUntil(t, fmt.Sprintf("the healthy client to keep exchanging messages (%s)", what), eventlog.Timeout,
		func() bool { return h.pongs.Load() >= want })
}

// dialPeer connects a raw peer and returns it with its client id.
func dialPeer(t *testing.T, sock string, log *eventlog.Log) (*net.UnixConn, string) {
	t.Helper()
	nc, err := net.Dial("unix", sock)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	return nc.(*net.UnixConn), log.Wait(t, "connection").Arg(0).(string)
}

// errRecorder keeps a count of the server's error events by client id and
// the first few of each, the order of errors and connectionClose events,
// and the "alive" messages. Unlike an eventlog it does not keep every error: a DecodeError
// holds its frame, and keeping a hundred thousand of them would measure
// the test's memory instead of the server's.
type errRecorder struct {
	mu    sync.Mutex
	seq   int
	byID  map[string]*peerErrs
	other []error
}

type peerErrs struct {
	count    int     // malformed frames reported (a RepeatedError counts for several)
	cut      int     // errors saying it was dropped for sending too many
	first    []error // up to 3
	lastSeq  int     // position of the last error
	closeSeq int     // position of connectionClose, 0 if none yet
	alive    int64   // the number of its last "alive" message, -1 if none
}

func recordErrors(srv *server.Server) *errRecorder {
	r := &errRecorder{byID: map[string]*peerErrs{}}
	srv.On("error", func(err error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.seq++
		var de *message.DecodeError
		if !errors.As(err, &de) || de.ClientID == "" {
			r.other = append(r.other, err)
			return
		}
		p := r.peer(de.ClientID)
		var rep *message.RepeatedError
		switch {
		case errors.Is(err, message.ErrTooManyBadFrames):
			p.cut++
		case errors.As(err, &rep):
			p.count += rep.Count
		default:
			p.count++
		}
		p.lastSeq = r.seq
		if len(p.first) < 3 {
			// A copy: the frame of a DecodeError shares the array of its
			// whole batch, which keeping would count against the server.
			p.first = append(p.first, &message.DecodeError{Raw: bytes.Clone(de.Raw), ClientID: de.ClientID, Err: de.Err})
		}
	})
	srv.On("message.alive", func(n int64, id string) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.peer(id).alive = n
	})
	srv.On("connectionClose", func(id string) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.seq++
		r.peer(id).closeSeq = r.seq
	})
	return r
}

func (r *errRecorder) peer(id string) *peerErrs {
	p := r.byID[id]
	if p == nil {
		p = &peerErrs{alive: -1}
		r.byID[id] = p
	}
	return p
}

// of returns a copy of what was recorded for id.
func (r *errRecorder) of(id string) peerErrs {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.byID[id]; p != nil {
		return *p
	}
	return peerErrs{alive: -1}
}

// waitClosed waits for id's connectionClose.
func (r *errRecorder) waitClosed(t *testing.T, id, what string) peerErrs {
	t.Helper()
	waitUntil(t, "connectionClose of the "+what, eventlog.Timeout, func() bool { return r.of(id).closeSeq > 0 })
	return r.of(id)
}

// randomFrames is n bytes of random data cut into frames of up to 4 KiB by
// delimiters (random data alone has "\x00\x00" only every 64 KiB or so),
// so that what follows it starts a frame of its own.
func randomFrames(rng *rand.Rand, n int) (data []byte, delimiters int) {
	data = make([]byte, 0, n+n/1000)
	for len(data) < n {
		chunk := make([]byte, rng.IntN(4096))
		for i := range chunk {
			chunk[i] = byte(rng.Uint32())
		}
		if len(chunk) > 0 && chunk[len(chunk)-1] == 0 {
			// A NUL before the delimiter would end the frame one byte
			// early and start the next with a NUL, breaking the valid
			// frame sent after the random ones.
			chunk[len(chunk)-1] = 1
		}
		data = append(data, chunk...)
		data = append(data, 0, 0)
		delimiters++
	}
	return data, delimiters
}

// Malicious and broken peers, each beside a healthy client that keeps
// exchanging messages with the server the whole time:
//   - one sends an endless frame with no delimiter: an error matching
//     ErrFrameTooLarge with its client id, its connection closed as soon as
//     the frame passes the limit, memory bounded by the limit;
//   - one sends random bytes cut into frames, hundreds at once: a
//     *message.DecodeError for each frame (runs of them folded into a
//     message.RepeatedError) until more than conn.MaxBadFrames arrived
//     within a second, then one wrapping message.ErrTooManyBadFrames, and
//     its connection is dropped (server TestUndecodableFrame shows that a
//     connection with a few bad frames stays usable);
//   - one connects and sends nothing: no error, and the server's Close
//     still completes within its flush timeout;
//   - one disconnects in the middle of a frame: a *message.DecodeError
//     wrapping io.ErrUnexpectedEOF with the partial frame, then connectionClose.
//
// The long form repeats this for many rounds on one server, with the
// default 16 MiB frame limit.
func TestMaliciousPeers(t *testing.T) {
	leakcheck.Check(t)
	maxFrame := pick(1<<20, message.DefaultMaxFrameSize)
	rounds := pick(1, 100)
	randomSize := pick(1<<20, 8<<20)
	const flush = time.Second
	sock := testsock.Path(t)
	srv, err := server.New(server.Options{SocketFile: sock, MaxFrameSize: maxFrame, FlushTimeout: flush})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	log := eventlog.Record(srv, "connection", "close")
	rec := recordErrors(srv)
	srv.On("message.ping", func(n int64, id string) { _ = srv.Send("pong", n, id) })
	require.NoError(t, srv.Listen())

	base := settledHeap()
	heap := sampleHeap()
	defer heap.Stop()
	start := time.Now()
	h := startHealthy(t, sock)
	healthyID := log.Wait(t, "connection").Arg(0).(string)
	stop := make(chan struct{})
	var pinger sync.WaitGroup
	pinger.Add(1)
	go func() {
		defer pinger.Done()
		h.run(t, stop)
	}()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		pinger.Wait()
	}()
	h.expectProgress(t, 10, "at the start")

	rng := rand.New(rand.NewPCG(1, 2))
	var silents []*net.UnixConn
	var silentIDs []string
	var tooLarge, decodeErrs, unexpectedEOF int
	var maxEndless int64
	for round := range rounds {
		endless, endlessID := dialPeer(t, sock, log)
		random, randomID := dialPeer(t, sock, log)
		silent, silentID := dialPeer(t, sock, log)
		half, halfID := dialPeer(t, sock, log)
		silents, silentIDs = append(silents, silent), append(silentIDs, silentID)
		data, delimiters := randomFrames(rng, randomSize)
		partial := []byte(`{"topic":"half","message":"never finish`)
		alive := fmt.Sprintf(`{"topic":"alive","message":%d}`, round)

		var wg sync.WaitGroup
		var endlessWritten int64
		var endlessErr, randomErr, halfErr error
		wg.Add(3)
		go func() {
			// Writes until the server hangs up; an unbounded reader would
			// let it write far past the limit.
			defer wg.Done()
			chunk := make([]byte, 64<<10)
			for i := range chunk {
				chunk[i] = 'x'
			}
			limit := int64(maxFrame) + 64<<20
			_ = endless.SetWriteDeadline(time.Now().Add(eventlog.Timeout))
			for endlessWritten < limit {
				n, err := endless.Write(chunk)
				endlessWritten += int64(n)
				if err != nil {
					endlessErr = err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			_ = random.SetWriteDeadline(time.Now().Add(eventlog.Timeout))
			if _, err := random.Write(data); err != nil {
				randomErr = err // the server stopped reading it: expected
				return
			}
			_, randomErr = random.Write([]byte(alive + "\x00\x00"))
		}()
		go func() {
			defer wg.Done()
			if _, err := half.Write(partial); err != nil {
				halfErr = err
				return
			}
			halfErr = half.Close()
		}()
		wg.Wait()
		h.expectProgress(t, 10, fmt.Sprintf("round %d", round))

		// The endless frame: ErrFrameTooLarge, connection closed, bounded.
		require.Error(t, endlessErr, "round %d: the endless frame was never cut off (%d bytes written)", round, endlessWritten)
		assert.LessOrEqual(t, endlessWritten, int64(maxFrame)+4<<20, "round %d: bytes taken of an endless frame", round)
		maxEndless = max(maxEndless, endlessWritten)
		pe := rec.waitClosed(t, endlessID, "endless peer")
		if assert.Equal(t, 1, pe.count, "round %d: errors of the endless peer", round) {
			assert.ErrorIs(t, pe.first[0], message.ErrFrameTooLarge)
			var de *message.DecodeError
			require.ErrorAs(t, pe.first[0], &de)
			assert.LessOrEqual(t, len(de.Raw), message.MaxRawInError)
			assert.Less(t, pe.lastSeq, pe.closeSeq, "the error comes before connectionClose")
			tooLarge++
		}

		// Random bytes: a DecodeError per frame until the limit, then the
		// connection is dropped; nothing after is delivered.
		require.Greater(t, delimiters, conn.MaxBadFrames, "round %d: enough random frames to cross the limit", round)
		pr := rec.waitClosed(t, randomID, "random peer")
		assert.Equal(t, 1, pr.cut, "round %d: one error says the random peer was dropped", round)
		assert.Greater(t, pr.count, conn.MaxBadFrames, "round %d: frames reported before the drop", round)
		assert.LessOrEqual(t, pr.count, delimiters)
		assert.Less(t, pr.lastSeq, pr.closeSeq, "the errors come before connectionClose")
		assert.Equal(t, int64(-1), pr.alive, "round %d: nothing of the random peer is delivered after the drop", round)
		for _, err := range pr.first {
			assert.NotErrorIs(t, err, message.ErrFrameTooLarge)
		}
		if randomErr != nil { // its writes fail once the server stops reading
			assert.ErrorIs(t, randomErr, syscall.EPIPE, "round %d: writing random bytes", round)
		}
		decodeErrs += pr.count
		random.Close()

		// Disconnected mid-frame: DecodeError wrapping io.ErrUnexpectedEOF, then connectionClose.
		require.NoError(t, halfErr)
		ph := rec.waitClosed(t, halfID, "mid-frame peer")
		if assert.Equal(t, 1, ph.count, "round %d: errors of the mid-frame peer", round) {
			assert.ErrorIs(t, ph.first[0], io.ErrUnexpectedEOF)
			var de *message.DecodeError
			require.ErrorAs(t, ph.first[0], &de)
			assert.Equal(t, string(partial), string(de.Raw))
			assert.Less(t, ph.lastSeq, ph.closeSeq, "the error comes before connectionClose")
			unexpectedEOF++
		}

		// The silent peer: no error, still connected.
		assert.Zero(t, rec.of(silentID).count, "round %d: errors of the silent peer", round)
		assert.Contains(t, srv.ClientIDs(), silentID)
		endless.Close()
		half.Close()
		// Each round starts from what is live, not from the garbage of the
		// round before, so the peak measures one round's worth.
		runtime.GC()
	}

	// Every error so far belongs to a misbehaving peer.
	rec.mu.Lock()
	assert.Empty(t, rec.other, "errors without a client id")
	rec.mu.Unlock()
	assert.Zero(t, rec.of(healthyID).count, "errors of the healthy client")
	close(stop)
	pinger.Wait()
	assert.Zero(t, h.bad.Load(), "the healthy client's pongs out of order")
	assert.Equal(t, h.pinged, h.pongs.Load())
	require.NoError(t, h.cli.Close())
	peak := heap.Stop()

	// Close with the silent peers still connected (they never read, never
	// close): it half-closes each and gives them the flush timeout to end
	// their side, all at once, then drops them.
	began := time.Now()
	require.NoError(t, srv.Close())
	closeTook := time.Since(began)
	assert.Less(t, closeTook, flush+2*time.Second, "server Close with silent peers connected")
	log.Wait(t, "close")
	for i, s := range silents {
		assert.Positive(t, rec.of(silentIDs[i]).closeSeq, "connectionClose of silent peer %d", i)
		require.NoError(t, s.SetReadDeadline(time.Now().Add(time.Second)))
		_, err := s.Read(make([]byte, 1))
		var ne net.Error
		if assert.Error(t, err, "silent peer %d: its connection was ended", i) && errors.As(err, &ne) {
			assert.False(t, ne.Timeout(), "silent peer %d: its connection was not ended: %v", i, err)
		}
		assert.Zero(t, rec.of(silentIDs[i]).count, "errors of silent peer %d", i)
	}

	// The heap holds at most one frame buffer at the limit (and the smaller
	// ones it grew from, until collected), each connection's read-ahead and
	// read buffer (64 KiB even for a silent peer, which stay connected to
	// the end), the test's own random data, and garbage: the collector lets
	// the heap reach about twice what was live. A reader that kept an
	// endless frame would hold far more (see the endless writer's limit).
	bound := base + uint64(randomSize) + 5*uint64(maxFrame) + uint64(rounds)*(128<<10) + 24<<20
	assert.Less(t, peak, bound, "heap peak with malicious peers")
	t.Logf("%d round(s), frame limit %s: endless frames cut off after at most %s written; %d decode errors from random bytes; %d mid-frame disconnects; %d pings answered; Close with %d silent peers took %v; heap %s settled, peak %s",
		rounds, mib(uint64(maxFrame)), mib(uint64(maxEndless)), decodeErrs, unexpectedEOF, h.pongs.Load(), len(silents), closeTook.Round(time.Millisecond), mib(base), mib(peak))
	report(t, result{
		Scenario: "malicious peers", Sent: h.pinged, Received: h.pongs.Load(), Lost: h.pinged - h.pongs.Load(), Duplicated: h.bad.Load(),
		PeakMem: peak, MemKind: "HeapInuse, test process (server and clients)", Seconds: time.Since(start).Seconds(),
		Notes: fmt.Sprintf("healthy ping-pong beside %d round(s) of 4 bad peers: %d endless frames cut at the %s limit (at most %s written), %d random frames reported as decode errors before each random peer was dropped (over %d a second), %d mid-frame disconnects, %d silent peers (Close took %v with flush timeout %v)",
			rounds, tooLarge, mib(uint64(maxFrame)), mib(uint64(maxEndless)), decodeErrs, conn.MaxBadFrames, unexpectedEOF, len(silents), closeTook.Round(time.Millisecond), flush),
	})
}
