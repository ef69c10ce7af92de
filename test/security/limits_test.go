//go:build unix

package security

import (
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/conn"
	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const mib = 1 << 20

// startPlain starts a server with opts on a fresh path and records events.
func startPlain(t *testing.T, opts server.Options, events ...string) (*server.Server, *eventlog.Log) {
	t.Helper()
	opts.SocketFile = filepath.Join(sharedDir(t, -1), "s.sock")
	srv, err := server.New(opts)
	require.NoError(t, err)
	log := eventlog.Record(srv, append([]string{"connection", "connectionClose", "error"}, events...)...)
	t.Cleanup(func() { _ = srv.Close() })
	require.NoError(t, srv.Listen())
	return srv, log
}

// dial connects a raw peer and returns it with the server's id for it.
func dial(t *testing.T, srv *server.Server, log *eventlog.Log) (*net.UnixConn, string) {
	t.Helper()
	nc, err := net.Dial("unix", srv.SocketFile())
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	return nc.(*net.UnixConn), log.Wait(t, "connection").Arg(0).(string)
}

// The documented defaults are the ones in force.
func TestDefaultLimits(t *testing.T) {
	assert.Equal(t, 16*mib, server.DefaultMaxFrameSize)
	assert.Equal(t, 16*mib, client.DefaultMaxFrameSize)
	assert.Equal(t, 64*mib, server.DefaultMaxQueueBytes)
	assert.Equal(t, 64*mib, client.DefaultMaxQueueBytes)
	assert.Equal(t, 1*mib, conn.DefaultReadAhead)
	assert.Equal(t, 5*time.Second, server.DefaultFlushTimeout)
	assert.Equal(t, 5*time.Second, client.DefaultFlushTimeout)
}

// With default options, a frame of exactly 16 MiB is taken, and a peer
// that goes on past 16 MiB without a delimiter is cut off there: a
// message.ErrFrameTooLarge error with its client id, and that connection
// is closed. (The reader is sure of it once limit + 2 bytes, the length of
// the delimiter, hold none.)
func TestDefaultMaxFrameSize(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startPlain(t, server.Options{})
	srv.On("message.t", func(msg string) { log.Add("got", len(msg)) }) // not the 16 MiB string: it would flood a failure's dump
	nc, id := dial(t, srv, log)
	envelope := `{"topic":"t","message":""}`
	exact := `{"topic":"t","message":"` + strings.Repeat("a", 16*mib-len(envelope)) + `"}`
	require.Len(t, exact, 16*mib)
	go func() { _, _ = nc.Write([]byte(exact + "\x00\x00")) }()
	assert.Equal(t, []any{16*mib - len(envelope)}, log.Wait(t, "got").Args)

	go func() { _, _ = nc.Write([]byte(strings.Repeat("a", 16*mib+2))) }()
	err := log.Wait(t, "error").Err()
	require.ErrorIs(t, err, message.ErrFrameTooLarge)
	assert.Contains(t, err.Error(), id)
	assert.Equal(t, []any{id}, log.Wait(t, "connectionClose").Args)
}

// With default options, a client that never reads gets at most 64 MiB
// queued for it: the send that would pass the limit fails with
// message.ErrQueueFull, and nothing blocks.
func TestDefaultMaxQueueBytes(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startPlain(t, server.Options{})
	_, id := dial(t, srv, log)
	chunk := strings.Repeat("x", mib)
	frameLen := len(`{"topic":"q","message":""}`) + mib + 2
	deadline := time.Now().Add(eventlog.Timeout)
	for sent := 0; ; sent++ {
		require.True(t, time.Now().Before(deadline), "no ErrQueueFull after %d MiB", sent)
		err := srv.Send("q", chunk, id)
		if err == nil {
			continue
		}
		require.ErrorIs(t, err, message.ErrQueueFull)
		queued := srv.Conn(id).QueuedBytes()
		assert.LessOrEqual(t, queued, server.DefaultMaxQueueBytes)
		assert.Greater(t, queued+frameLen, server.DefaultMaxQueueBytes, "the limit, not less, was reached")
		t.Logf("%d frames of %d bytes accepted; %d bytes queued when the next one was refused", sent, frameLen, queued)
		break
	}
	log.Wait(t, "error") // emitted too
}

// A peer that writes faster than the listeners consume is read at most
// about 1 MiB ahead (conn.DefaultReadAhead, plus one 64 KiB read and the
// kernel's socket buffers): then the server stops reading and the peer's
// writes block. Nothing is lost: once the listener goes on, everything
// arrives.
func TestReadAheadBoundsUnreadInput(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startPlain(t, server.Options{})
	var (
		release   = make(chan struct{})
		target    atomic.Int64
		done      = make(chan struct{})
		delivered int64
	)
	srv.On("message", func() {
		if delivered == 0 {
			<-release // the first message blocks the event loop
		}
		delivered++
		if delivered == target.Load() {
			close(done)
		}
	})
	nc, _ := dial(t, srv, log)

	frame := []byte(`{"topic":"t","message":"` + strings.Repeat("a", 1000) + `"}` + "\x00\x00")
	const limit = 32 * mib
	written := 0
	for {
		// A write that makes no progress for 300 ms means the server stopped reading.
		require.NoError(t, nc.SetWriteDeadline(time.Now().Add(300*time.Millisecond)))
		n, err := nc.Write(frame)
		written += n
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			break
		}
		require.NoError(t, err)
		require.Less(t, written, limit, "the server kept reading while its listener was blocked")
	}
	t.Logf("the peer wrote %d bytes (%.2f MiB) before the server stopped reading", written, float64(written)/mib)

	assert.Less(t, written, conn.DefaultReadAhead+2*mib)

	target.Store(int64((written + len(frame) - 1) / len(frame)))
	close(release)
	require.NoError(t, nc.SetWriteDeadline(time.Now().Add(eventlog.Timeout)))
	if rest := written % len(frame); rest != 0 {
		_, err := nc.Write(frame[rest:]) // the rest of the frame cut by the timeout
		require.NoError(t, err)
	}
	select {
	case <-done:
	case <-time.After(eventlog.Timeout):
		t.Fatalf("not all %d messages were delivered", target.Load())
	}
	assert.Zero(t, log.Count("error"), "%v", log.All())
}

// A connection that sends nothing costs the server one descriptor and one
// goroutine (its reader: a writer runs only while there is something to
// write), for as long as the peer keeps it
// open: by default there is no idle timeout and no limit on connections
// (see TestMaxConnections and TestIdleTimeout for the options).
func TestIdleConnectionsCost(t *testing.T) {
	leakcheck.Check(t)
	const n = 100
	srv, log := startPlain(t, server.Options{})
	// Warm up: one connection that comes and goes starts everything lazy.
	nc, _ := dial(t, srv, log)
	nc.Close()
	log.Wait(t, "connectionClose")

	// The warm-up connection's reader and writer end just after its
	// connectionClose: count the server's own goroutines once they are gone.
	pollGoroutines(t, func(conns, _ int) bool { return conns == 0 })
	_, others := libraryGoroutines()
	fds := openFDs(t)
	for range n {
		dial(t, srv, log) // ours: one descriptor each
	}
	pollGoroutines(t, func(conns, _ int) bool { return conns >= n })
	conns, nowOthers := libraryGoroutines()
	assert.Equal(t, n, conns, "a reader per connection, and no writer")
	assert.Equal(t, others, nowOthers, "no other library goroutine per connection")
	assert.Equal(t, fds+2*n, openFDs(t), "descriptors: %d ours and %d the server's", n, n)
	assert.Len(t, srv.ClientIDs(), n, "all of them are clients")
	assert.Zero(t, log.Count("error"))
}

// libraryGoroutines counts the library's goroutines: those of connections
// (readers and writers), and the others (loop, accept loop).
func libraryGoroutines() (conns, others int) {
	for _, g := range leakcheck.LibraryGoroutines() {
		if strings.Contains(g, "internal/conn.(*Conn)") {
			conns++
		} else {
			others++
		}
	}
	return conns, others
}

// pollGoroutines waits until done holds for the library's goroutines.
func pollGoroutines(t *testing.T, done func(conns, others int) bool) {
	t.Helper()
	deadline := time.Now().Add(eventlog.Timeout)
	for !done(libraryGoroutines()) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // polling for goroutines to start or end
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	n := leakcheck.OpenFDs()
	require.NotZero(t, n, "descriptors are counted on this system")
	return n
}
