package server_test

// Tests that make claims of the docs fail when they are false: each
// measures the very thing the claim states, not something weaker.

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// USAGE "Working with client ids": connectionClose comes once for every
// connection that ends, whichever side ended it. Counted per client while
// the endings race: each of 30 raw clients is hung up by itself, closed by
// the server (Conn.Close), or both at once, at the same moment as the
// server's own Close. Every client gets exactly one connectionClose, and
// nothing else gets one. Five rounds.
func TestConnectionCloseOncePerClientUnderCloseRace(t *testing.T) {
	leakcheck.Check(t)
	guard(t, 60*time.Second)
	for round := range 5 {
		srv, log := startServer(t, server.Options{FlushTimeout: 5 * time.Second})
		const n = 30
		peers := make([]*rawPeer, n)
		for i := range peers {
			peers[i] = dialRaw(t, srv, log)
			peers[i].hangUpOnEOF() // a client that hangs up when the server ends it
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, p := range peers {
			conn := srv.Conn(p.ID)
			require.NotNil(t, conn)
			if i%3 != 1 { // 0 and 2: the client hangs up
				goAfter(&wg, start, func() { p.Close() })
			}
			if i%3 != 0 { // 1 and 2: the server closes it
				goAfter(&wg, start, func() { conn.Close() })
			}
		}
		goAfter(&wg, start, func() { srv.Close() })
		close(start)
		wg.Wait()
		require.NoError(t, srv.Close())

		count := map[string]int{}
		for _, e := range log.All() {
			if e.Name == "connectionClose" {
				count[e.Arg(0).(string)]++
			}
		}
		want := map[string]int{}
		for _, p := range peers {
			want[p.ID] = 1
		}
		require.Equal(t, want, count, "round %d: connectionClose per client id", round)
		require.Equal(t, n, log.Count("connection"))
	}
}

// goAfter runs fn on a goroutine of wg once start is closed.
func goAfter(wg *sync.WaitGroup, start <-chan struct{}, fn func()) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-start
		fn()
	}()
}

// notWritten reads the byte count of Close's flush error.
var notWritten = regexp.MustCompile(`(\d+) queued bytes were not written`)

// ADVANCED "Nothing lost on close": when a client does not read within
// FlushTimeout, Close's error "says how many queued bytes were not
// written". Exactly: what that client reads afterwards (everything the
// server handed to the kernel) plus that number is every byte sent to it.
// The connectionClose of that client carries the same count.
func TestCloseReportsExactUnwrittenBytes(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{FlushTimeout: 200 * time.Millisecond})
	slow := dialRaw(t, srv, log) // reads only after Close
	big := strings.Repeat("z", 256<<10)
	total := 0
	for i := range 8 { // 2 MiB: more than the kernel's buffers hold
		f, err := message.AppendFrame(nil, message.JSON, message.Framing{}, "big", big+strconv.Itoa(i))
		require.NoError(t, err)
		total += len(f)
		require.NoError(t, srv.Send("big", big+strconv.Itoa(i), slow.ID))
	}
	err := srv.Close()
	require.Error(t, err)
	m := notWritten.FindStringSubmatch(err.Error())
	require.NotNil(t, m, "Close's error says how many bytes: %v", err)
	reported, _ := strconv.Atoi(m[1])

	received := 0
	require.NoError(t, slow.SetReadDeadline(time.Now().Add(ioTimeout)))
	buf := make([]byte, 64<<10)
	for {
		k, rerr := slow.Read(buf)
		received += k
		if rerr != nil {
			break
		}
	}
	t.Logf("sent %d bytes: %d received, %d reported not written", total, received, reported)
	require.Positive(t, reported)
	require.Positive(t, received)
	require.Equal(t, total, received+reported, "received + reported unwritten = sent")

	// connectionClose's second argument says the same, in messages and bytes.
	closeEv := log.Wait(t, "connectionClose")
	require.Len(t, closeEv.Args, 2)
	var de *message.DiscardedError
	require.ErrorAs(t, closeEv.Arg(1).(error), &de)
	assert.Equal(t, reported, de.Bytes)
}

// PORTING "Close before Listen is fine": it returns nil, delivers closed
// and close (Node's close() before listen() throws), and a later Listen
// fails with ErrServerClosed, binding nothing.
func TestCloseBeforeListen(t *testing.T) {
	leakcheck.Check(t)
	srv, log := newServer(t, server.Options{})
	require.NoError(t, srv.Close())
	log.Wait(t, "close")
	assert.Equal(t, []string{"closed", "close"}, log.Names())
	require.ErrorIs(t, srv.Listen(), server.ErrServerClosed)
}
