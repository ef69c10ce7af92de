//go:build unix

package security

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// expectClosed waits until the server ends nc: reading gives EOF (or a
// reset) after any bytes it was sent.
func expectClosed(t *testing.T, nc net.Conn) []byte {
	t.Helper()
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(eventlog.Timeout)))
	b, err := io.ReadAll(nc)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server did not close the connection")
	return b
}

// MaxConnections: while that many clients are connected, one more is
// closed as soon as it is accepted, with an error matching
// server.ErrTooManyConnections; once a client leaves, the next is admitted.
func TestMaxConnections(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startPlain(t, server.Options{MaxConnections: 3})
	var first net.Conn
	for i := range 3 {
		nc, _ := dial(t, srv, log)
		if i == 0 {
			first = nc
		}
	}
	extra, err := net.Dial("unix", srv.SocketFile())
	require.NoError(t, err)
	defer extra.Close()
	err = log.Wait(t, "error").Err()
	require.ErrorIs(t, err, server.ErrTooManyConnections)
	assert.Contains(t, err.Error(), "3 clients")
	assert.Empty(t, expectClosed(t, extra))
	assert.Len(t, srv.ClientIDs(), 3)
	assert.Equal(t, 3, log.Count("connection"), "the extra one never was a client")

	first.Close()
	log.Wait(t, "connectionClose")
	dial(t, srv, log) // a place is free again
	assert.Len(t, srv.ClientIDs(), 3)
}

// IdleTimeout: a client that sends nothing for that long is disconnected,
// with an error matching server.ErrIdleTimeout that names it; what was
// queued for it is written first. A client that keeps sending stays, even
// while one frame takes it longer than the timeout.
func TestIdleTimeout(t *testing.T) {
	leakcheck.Check(t)
	const idle = 300 * time.Millisecond
	srv, log := startPlain(t, server.Options{IdleTimeout: idle}, "message.slow")
	quiet, quietID := dial(t, srv, log)
	busy, busyID := dial(t, srv, log)
	require.NoError(t, srv.Send("hello", strings.Repeat("h", 100), quietID))

	// The busy client writes one frame a byte every idle/3, 8 bytes: the
	// frame takes more than twice the timeout.
	const pieces = 8
	_, err := busy.Write([]byte(`{"topic":"slow","message":"`))
	require.NoError(t, err)
	sent := make(chan int)
	go func() {
		n := 0
		defer func() { sent <- n }()
		tick := time.NewTicker(idle / 3)
		defer tick.Stop()
		for range tick.C {
			if _, err := busy.Write([]byte("s")); err != nil {
				return
			}
			if n++; n == pieces {
				return
			}
		}
	}()
	start := time.Now()
	err = log.Wait(t, "error").Err()
	waited := time.Since(start)
	require.ErrorIs(t, err, server.ErrIdleTimeout)
	assert.Contains(t, err.Error(), quietID)
	assert.Equal(t, []any{quietID}, log.Wait(t, "connectionClose").Args)
	assert.GreaterOrEqual(t, waited, idle-50*time.Millisecond, "not before the timeout")
	assert.Equal(t, `{"topic":"hello","message":"`+strings.Repeat("h", 100)+`"}`+"\x00\x00", string(expectClosed(t, quiet)),
		"what was queued is written before the connection closes")
	n := <-sent
	require.Equal(t, pieces, n)
	_, err = busy.Write([]byte(`"}` + "\x00\x00"))
	require.NoError(t, err)
	assert.Equal(t, []any{strings.Repeat("s", n), busyID}, log.Wait(t, "message.slow").Args)
	assert.Contains(t, srv.ClientIDs(), busyID, "the client that kept sending stays")
	assert.Equal(t, 1, log.Count("error"))
}

// IdleTimeout counts only time in which the peer could have sent and did
// not: a client that keeps writing while the server itself is slow to read
// (its listener stalls for three timeouts, so the reader waits for the
// listeners with input pending) is not idle, and loses nothing.
func TestIdleTimeoutSparesAThrottledSender(t *testing.T) {
	leakcheck.Check(t)
	const idle = 300 * time.Millisecond
	srv, log := startPlain(t, server.Options{IdleTimeout: idle}, "message.big")
	release := make(chan struct{})
	var stalled sync.Once
	srv.On("message.big", func() {
		stalled.Do(func() { <-release })
	})
	nc, id := dial(t, srv, log)

	// Frames of 300 KiB, 4 MiB in all: more than the connection may read
	// ahead of a stalled listener, so the reader waits on the server.
	const frames = 14
	frame := []byte(`{"topic":"big","message":"` + strings.Repeat("b", 300<<10) + `"}` + "\x00\x00")
	wrote := make(chan error, 1)
	go func() {
		for range frames {
			if _, err := nc.Write(frame); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	log.Wait(t, "message.big") // the first frame is in the stalled listener
	time.AfterFunc(3*idle, func() { close(release) })
	for range frames - 1 {
		log.Wait(t, "message.big")
	}
	require.NoError(t, <-wrote)
	assert.Zero(t, log.Count("error"), "no idle timeout for a client that kept sending")
	assert.Contains(t, srv.ClientIDs(), id)
}

// The defaults: no connection limit, no idle timeout (TestIdleConnectionsCost
// keeps 100 quiet connections), 8 MiB of read-ahead for all clients.
func TestConnectionLimitDefaults(t *testing.T) {
	assert.Equal(t, 8*mib, server.DefaultMaxReadAhead)
	var o server.Options
	assert.Zero(t, o.MaxConnections)
	assert.Zero(t, o.IdleTimeout)
}
