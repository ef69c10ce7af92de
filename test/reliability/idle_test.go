//go:build linux

package reliability_test

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// idleHeapBound is the most heap one idle connection may cost the server
// (issue 8: it was 66 KiB, the read buffer kept after the first read).
const idleHeapBound = 8 << 10

// Idle connections: many clients (5,000 in the long form) connect to a
// server in its own process, each sends one message, then all stay quiet.
// The server's heap after GC grows by at most idleHeapBound per
// connection: an idle connection holds no read buffer and no send chunk.
// Its resident memory and goroutine stacks are reported too.
func TestIdleConnections(t *testing.T) {
	leakcheck.Check(t)
	n := pick(1000, 5000)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < uint64(n+200) {
		n = int(lim.Cur - 200) // the helper has the same limit, one descriptor per connection
		t.Logf("the descriptor limit (%d) allows %d connections", lim.Cur, n)
	}
	sock := testsock.Path(t)
	p := startServer(t, sock, nil)
	before := p.statsNow(t)
	start := time.Now()
	peers := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, nc := range peers {
			nc.Close()
		}
	})
	for i := range n {
		nc := dialUnix(t, sock)
		peers = append(peers, nc)
		_, err := fmt.Fprintf(nc, `{"topic":"seq","message":{"c":"I%04d","n":0}}`+"\x00\x00", i)
		require.NoError(t, err)
	}
	var now procStats
	deadline := time.Now().Add(60 * time.Second)
	for now = p.statsNow(t); now.Messages < int64(n); now = p.statsNow(t) {
		require.True(t, time.Now().Before(deadline), "%d of %d messages arrived", now.Messages, n)
		time.Sleep(50 * time.Millisecond) // polling the helper's count
	}
	elapsed := time.Since(start)
	heap := int64(now.HeapAfterGC) - int64(before.HeapAfterGC)
	rss := int64(now.VmRSS) - int64(before.VmRSS)
	stacks := int64(now.StackInuse) - int64(before.StackInuse)
	perConn := heap / int64(n)
	t.Logf("%d idle connections: server heap +%.1f MiB (%d bytes each), goroutine stacks +%.1f MiB (%d bytes each), RSS +%.1f MiB (%d bytes each), %d goroutines",
		n, float64(heap)/(1<<20), perConn, float64(stacks)/(1<<20), stacks/int64(n), float64(rss)/(1<<20), rss/int64(n), now.Goroutines)
	assert.LessOrEqual(t, perConn, int64(idleHeapBound), "heap per idle connection")
	s := p.stop(t)
	assert.Empty(t, p.errors(), "the server reported errors")
	assert.Equal(t, n, s.MaxConns, "all connected at once")
	report(t, result{
		Scenario: "idle connections", Sent: int64(n), Received: now.Messages, Lost: int64(n) - now.Messages,
		PeakMem: now.HeapAfterGC - before.HeapAfterGC, MemKind: "heap after GC, server process, growth", Seconds: elapsed.Seconds(),
		Notes: fmt.Sprintf("%d connections, each sent one message then stayed quiet: server heap %d bytes per connection (bound %d), goroutine stacks %d bytes per connection, RSS +%.1f MiB in all, %d goroutines",
			n, perConn, idleHeapBound, stacks/int64(n), float64(rss)/(1<<20), now.Goroutines),
	})
}

// dialUnix connects, retrying while the listen backlog is full (EAGAIN)
// because the server has not accepted the previous connections yet.
func dialUnix(t *testing.T, sock string) net.Conn {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		nc, err := net.Dial("unix", sock)
		if err == nil {
			return nc
		}
		require.True(t, errors.Is(err, syscall.EAGAIN), "dial: %v", err)
		require.True(t, time.Now().Before(deadline), "the server does not accept: %v", err)
		time.Sleep(time.Millisecond) // polling: the backlog empties as the server accepts
	}
}
