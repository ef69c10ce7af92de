package client_test

// Tests that make claims of the docs fail when they are false: each
// measures the very thing the claim states, not something weaker.

import (
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/socketipc/socketipc/backoff"
	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reconnectGaps connects a client with opts, has dropper drop its
// connection (known by the server's id, from ids) reps times, and returns each time from its disconnect to its next
// connect, both as the client's listeners see them.
func reconnectGaps(t *testing.T, ids <-chan string, dropper func(id string), opts client.Options, reps int) []time.Duration {
	t.Helper()
	cli := newClient(t, opts)
	disconnected := make(chan time.Time, 1)
	connected := make(chan time.Time, 1)
	cli.On("disconnect", func() { disconnected <- time.Now() })
	cli.On("connect", func() { connected <- time.Now() })
	require.NoError(t, cli.Connect())
	within(t, guard, "first connect", func() { <-connected })
	var gaps []time.Duration
	for range reps {
		dropper(<-ids)
		var d, c time.Time
		within(t, guard, "disconnect", func() { d = <-disconnected })
		within(t, guard, "reconnect", func() { c = <-connected })
		gaps = append(gaps, c.Sub(d))
	}
	<-ids // the last connection's id
	require.NoError(t, cli.Close())
	return gaps
}

// USAGE "Automatic reconnect": ReconnectDelay defaults to 100 ms. The gap
// from disconnect to connect with the default is compared with the gaps of
// the same client under backoff.Constant(100 ms) and backoff.Constant(1 s):
// the default's must be the 100 ms one's, give or take the machine's noise,
// and far from the 1 s one's. The shortest of three gaps is compared, since
// noise only ever adds time. A default of 1 s (Node's RetryDelay, a likely
// mix-up), 300 ms or 50 ms fails.
func TestDefaultReconnectDelayIs100ms(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	srv := startServer(t, path)
	ids := make(chan string, 8)
	srv.On("connection", func(id string) { ids <- id })
	drop := func(id string) { srv.Conn(id).Close() }
	noRetry := backoff.Constant(fast) // a failed attempt would add RetryDelay; none is expected

	const reps = 3
	shortest := func(opts client.Options) time.Duration {
		opts.SocketFile, opts.RetryDelay = path, noRetry
		return slices.Min(reconnectGaps(t, ids, drop, opts, reps))
	}
	dflt := shortest(client.Options{})
	ref100 := shortest(client.Options{ReconnectDelay: backoff.Constant(100 * time.Millisecond)})
	ref1s := shortest(client.Options{ReconnectDelay: backoff.Constant(time.Second)})
	t.Logf("shortest of %d disconnect->connect gaps: default %v, Constant(100ms) %v, Constant(1s) %v", reps, dflt, ref100, ref1s)

	assert.GreaterOrEqual(t, dflt, 100*time.Millisecond, "the client waited less than 100 ms")
	overhead := ref100 - 100*time.Millisecond // what the machine adds to a wait
	assert.Less(t, dflt, 100*time.Millisecond+overhead+100*time.Millisecond,
		"the default waited clearly longer than Constant(100ms) did (%v)", ref100)
	assert.Less(t, dflt-ref100, (ref1s-ref100)/4, "the default is nearer a 1 s delay than a 100 ms one")
}

// USAGE "Event timing", "One at a time, in order": listeners of several
// events mutate one plain variable, with no lock and no atomic, while the
// server streams messages from its own goroutine and drops the client
// again and again (so connect, reconnect, disconnect and messages
// interleave). Run with -race: two listeners running at once, or one
// without a happens-before edge to the previous, is a reported race. The
// trace must also be in the promised order.
func TestSerialDeliveryPlainState(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	srv := startServer(t, path)
	srv.On("error", func(error) {}) // sends to a dropped connection fail, as expected
	const drops = 4
	stop := make(chan struct{})
	conns := make(chan string, drops+1)
	srv.On("connection", func(id string) {
		conns <- id
		go func() { // stream to this connection until it ends
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if srv.Send("seq", i, id) != nil {
					return // dropped: the next connection streams anew
				}
				if i%64 == 63 {
					time.Sleep(time.Millisecond) // let the client's loop keep up
				}
			}
		}()
	})
	defer close(stop)

	cli := newClient(t, fastOptions(path))
	// The shared state: plain variables, touched only by listeners.
	var trace []string
	lastSeq := -1
	inOrder := true
	got := make(chan []string, 1)
	seen := make(chan int, 64)
	cli.On("connect", func() { trace = append(trace, "connect"); lastSeq = -1 })
	cli.On("reconnect", func() { trace = append(trace, "reconnect") })
	cli.On("disconnect", func() { trace = append(trace, "disconnect") })
	cli.On("message", func(msg int, topic string) {
		trace = append(trace, "message")
	})
	cli.On("message.seq", func(msg int) {
		if trace[len(trace)-1] != "message" {
			inOrder = false
		}
		trace = trace[:len(trace)-1] // keep the trace short: one message stands for itself
		if msg != lastSeq+1 {
			inOrder = false
		}
		lastSeq = msg
		if msg == 100 {
			trace = append(trace, "100 messages")
			seen <- len(trace)
		}
	})
	cli.On("close", func() { got <- slices.Clone(trace) })
	require.NoError(t, cli.Connect())
	for range drops {
		within(t, guard, "100 messages", func() { <-seen })
		srv.Conn(<-conns).Close()
	}
	within(t, guard, "100 messages after the last reconnect", func() { <-seen })
	require.NoError(t, cli.Close())
	var final []string
	within(t, guard, "close", func() { final = <-got })

	want := []string{"connect", "100 messages"}
	for range drops {
		want = append(want, "disconnect", "connect", "reconnect", "100 messages")
	}
	require.Equal(t, want, final)
	require.True(t, inOrder, "a message.seq without its message just before it, or out of order")
}

// notWritten reads the byte count of Close's flush error.
var notWritten = regexp.MustCompile(`(\d+) queued bytes were not written`)

// ADVANCED "Nothing lost on close": when the peer does not read within
// FlushTimeout, Close's error "says how many queued bytes were not
// written". Exactly: what the server reads afterwards (everything the
// client handed to the kernel) plus that number is every byte sent.
func TestCloseReportsExactUnwrittenBytes(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	raw := listenRaw(t, path)
	opts := fastOptions(path)
	opts.FlushTimeout = 200 * time.Millisecond
	cli := newClient(t, opts)
	log := eventlog.Record(cli, clientEvents...)
	require.NoError(t, cli.Connect())
	nc := raw.accept() // read only after Close
	log.Wait(t, "connect")
	pad := strings.Repeat("x", 1000)
	total := 0
	for i := range 2000 { // 2 MB: more than the kernel's buffers hold
		msg := seqMsg{I: i, Pad: pad}
		total += len(frame("seq", msg))
		require.NoError(t, cli.Send("seq", msg))
	}
	err := cli.Close()
	require.Error(t, err)
	m := notWritten.FindStringSubmatch(err.Error())
	require.NotNil(t, m, "Close's error says how many bytes: %v", err)
	reported, _ := strconv.Atoi(m[1])

	require.NoError(t, nc.SetReadDeadline(time.Now().Add(guard)))
	received, rerr := io.Copy(io.Discard, nc)
	require.NoError(t, rerr, "the client closed its end after the flush timeout")
	t.Logf("sent %d bytes: %d received, %d reported not written", total, received, reported)
	require.Positive(t, reported)
	require.Positive(t, received)
	require.Equal(t, total, int(received)+reported, "received + reported unwritten = sent")
}

// retryGap connects a client with opts while no server listens, starts one
// after the first failed attempt, and returns the time from that
// connectError to the connect, as the client's listeners see them.
func retryGap(t *testing.T, opts client.Options) time.Duration {
	t.Helper()
	opts.SocketFile = testsock.Path(t)
	cli := newClient(t, opts)
	failed := make(chan time.Time, 1)
	connected := make(chan time.Time, 1)
	cli.Once("connectError", func() { failed <- time.Now() })
	cli.On("connect", func() { connected <- time.Now() })
	require.NoError(t, cli.Connect())
	var f, c time.Time
	within(t, guard, "connectError", func() { f = <-failed })
	startServer(t, opts.SocketFile)
	within(t, guard, "connect", func() { c = <-connected })
	require.NoError(t, cli.Close())
	return c.Sub(f)
}

// USAGE "Automatic retry": a nil RetryDelay is a constant second, as in
// Node. The wait after a failed attempt with the default is compared with
// the wait under backoff.Constant(1 s): the same, give or take the
// machine's noise (300 ms), so a default of 2 s or 500 ms fails. The gap
// is seen by listeners, and the connectError listener may run a little after
// the retry timer started, so the floor allows 100 ms for that.
func TestDefaultRetryDelayIs1s(t *testing.T) {
	leakcheck.Check(t)
	dflt := retryGap(t, client.Options{})
	ref := retryGap(t, client.Options{RetryDelay: backoff.Constant(time.Second)})
	t.Logf("connectError->connect: default %v, Constant(1s) %v", dflt, ref)
	assert.GreaterOrEqual(t, dflt, 900*time.Millisecond)
	assert.InDelta(t, ref.Seconds(), dflt.Seconds(), 0.3)
}
