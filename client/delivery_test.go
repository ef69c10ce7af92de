package client_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/socketipc/socketipc/backoff"
	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/emitter"
	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type seqMsg struct {
	I   int    `json:"i"`
	Pad string `json:"p,omitempty"`
}

// spin burns CPU for d, as a listener doing real work would (not a sleep).
func spin(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}

// A client sends 20,000 messages in a tight loop and closes at once: the
// server gets every one, in order, before the connection ends.
func TestNothingLostOnClose(t *testing.T) {
	testNothingLost(t, 0, 0)
}

// The same with a server that starts slowly and does a little work per
// message (as a Node server would): its reader pushes back, the client's
// queue holds the rest, and Close still flushes everything.
func TestNothingLostOnCloseSlowServer(t *testing.T) {
	testNothingLost(t, 50*time.Millisecond, 10*time.Microsecond)
}

func testNothingLost(t *testing.T, startDelay, perMessage time.Duration) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	srv := startServer(t, path)
	const n = 20_000
	pad := strings.Repeat("x", 100) // 20,000 frames of ~130 bytes: more than the reader's read-ahead
	count, bad := 0, 0              // only touched on the server's loop
	type result struct{ count, bad int }
	results := make(chan result, 1)
	srv.On("message.n", func(m seqMsg) {
		if count == 0 {
			spin(startDelay)
		}
		spin(perMessage)
		if m.I != count || m.Pad != pad {
			bad++
		}
		count++
	})
	srv.On("connectionClose", func() { results <- result{count, bad} })
	serr := eventlog.Record(srv, "error")

	opts := fastOptions(path)
	// Generous, so a machine busy with other work does not turn a slow
	// flush into a failure; the point is that Close flushes everything.
	opts.FlushTimeout = 30 * time.Second
	cli := newClient(t, opts)
	log := eventlog.Record(cli, clientEvents...)
	require.NoError(t, cli.Connect())
	log.Wait(t, "connect")
	start := time.Now()
	for i := range n {
		if err := cli.Send("n", seqMsg{I: i, Pad: pad}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	require.NoError(t, cli.Close(), "everything flushed within the flush timeout")
	t.Logf("sent and closed in %v", time.Since(start))
	select {
	case r := <-results:
		require.Equal(t, n, r.count, "messages received before the connection ended")
		require.Zero(t, r.bad, "messages out of order or damaged")
	case <-time.After(guard):
		t.Fatal("the server never saw the connection end")
	}
	require.Equal(t, []string{"connect", "closed", "close"}, log.Names())
	require.Zero(t, serr.Count("error"), "%v", serr.All())
}

// The server process dies (a raw server closes the connection without
// reading) while the client's send queue holds messages: no panic, the
// client disconnects and reconnects, what is sent afterwards arrives in
// order, and nothing from the dead connection is sent again.
func TestServerCrashWithQueuedMessages(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	raw := listenRaw(t, path)
	cli := newClient(t, fastOptions(path))
	log := eventlog.Record(cli, clientEvents...)
	require.NoError(t, cli.Connect())
	c1 := raw.accept()
	log.Wait(t, "connect")

	pad := strings.Repeat("x", 1000)
	const before, after = 2000, 100
	for i := range before { // ~2 MB: far more than the socket buffer takes
		require.NoError(t, cli.Send("seq", seqMsg{I: i, Pad: pad}))
	}
	require.Positive(t, cli.Conn().QueuedBytes(), "some messages are still queued")
	require.NoError(t, c1.Close()) // the server is gone, unread data and all

	log.Wait(t, "disconnect")
	c2 := raw.accept()
	log.Wait(t, "reconnect")
	for i := before; i < before+after; i++ {
		require.NoError(t, cli.Send("seq", seqMsg{I: i}))
	}
	type read struct {
		frames []gotFrame
		err    error
	}
	reads := make(chan read, 1)
	go func() {
		frames, err := readAll(c2, guard)
		c2.Close()
		reads <- read{frames, err}
	}()
	require.NoError(t, cli.Close())
	r := <-reads
	require.NoError(t, r.err)
	require.Len(t, r.frames, after, "only what was sent after the reconnect, once")
	for k, f := range r.frames {
		var m seqMsg
		require.NoError(t, json.Unmarshal(f.Payload, &m))
		require.Equal(t, before+k, m.I)
	}

	require.Equal(t, []string{"connect", "disconnect", "connect", "reconnect", "closed", "close"},
		without(log.Names(), "error"))
	for _, ev := range log.All() {
		if ev.Name == "error" {
			t.Logf("error event: %v", ev.Err())
			var pe *emitter.PanicError
			assert.NotErrorAs(t, ev.Err(), &pe)
		}
	}
}

// Close while disconnected after a crash that lost queued messages: the
// loss belongs to the dead connection (the wire has no acknowledgements);
// Close itself flushed nothing and failed nothing, so it returns nil.
func TestCloseAfterCrashReportsNoFlushError(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	raw := listenRaw(t, path)
	cli := newClient(t, client.Options{SocketFile: path, ReconnectDelay: backoff.Constant(time.Hour)})
	log := eventlog.Record(cli, clientEvents...)
	require.NoError(t, cli.Connect())
	c1 := raw.accept()
	log.Wait(t, "connect")
	pad := strings.Repeat("x", 1000)
	for i := range 2000 {
		require.NoError(t, cli.Send("seq", seqMsg{I: i, Pad: pad}))
	}
	require.NoError(t, c1.Close())
	log.Wait(t, "disconnect")
	within(t, guard, "Close", func() { require.NoError(t, cli.Close()) })
	require.Equal(t, []string{"connect", "disconnect", "closed", "close"}, without(log.Names(), "error"))
}

// Close while the server does not read: the flush gives up after
// FlushTimeout, and Close says how much was not written (returned and
// emitted).
func TestCloseFlushTimeout(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	raw := listenRaw(t, path)
	opts := fastOptions(path)
	opts.FlushTimeout = 200 * time.Millisecond
	cli := newClient(t, opts)
	log := eventlog.Record(cli, clientEvents...)
	require.NoError(t, cli.Connect())
	raw.accept() // and never read
	log.Wait(t, "connect")
	pad := strings.Repeat("x", 1000)
	for i := range 2000 {
		require.NoError(t, cli.Send("seq", seqMsg{I: i, Pad: pad}))
	}
	start := time.Now()
	var err error
	within(t, guard, "Close", func() { err = cli.Close() })
	elapsed := time.Since(start)
	require.Error(t, err, "queued bytes were dropped")
	require.Contains(t, err.Error(), "not written")
	require.GreaterOrEqual(t, elapsed, opts.FlushTimeout)
	require.Less(t, elapsed, 5*time.Second)
	var emitted bool
	for _, ev := range log.All() {
		if ev.Name == "error" && ev.Err() == err {
			emitted = true
		}
	}
	require.True(t, emitted, "Close's error is emitted too: %v", log.All())
	require.Equal(t, []string{"connect", "closed", "close"}, without(log.Names(), "error"))
}
