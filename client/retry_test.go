package client_test

import (
	"net"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/socketipc/socketipc/backoff"
	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/message"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func repeat(s string, n int) []string { return slices.Repeat([]string{s}, n) }

// Before the server exists: connectError (with the dial error) after each
// failed attempt, RetryDelay consulted after each; when the server appears,
// connect (and no reconnect); both policies reset at the start and after
// the successful connection.
func TestRetryUntilServerStarts(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	calls := &callLog{}
	retry := counting("retry", backoff.Constant(fast), calls)
	recon := counting("reconnect", backoff.Constant(fast), calls)
	cli := newClient(t, client.Options{SocketFile: path, RetryDelay: retry, ReconnectDelay: recon})
	log := eventlog.Record(cli, clientEvents...)
	require.NoError(t, cli.Connect())

	log.WaitCount(t, "connectError", 3)
	ce := log.Wait(t, "connectError")
	require.Len(t, ce.Args, 1)
	err := ce.Err()
	require.Error(t, err)
	var opErr *net.OpError
	require.ErrorAs(t, err, &opErr, "connectError carries the dial error")
	require.ErrorIs(t, err, syscall.ENOENT, "no socket file yet")
	require.Nil(t, cli.Conn())

	startServer(t, path)
	log.Wait(t, "connect")
	require.NoError(t, cli.Close())

	n := log.Count("connectError")
	require.GreaterOrEqual(t, n, 3)
	require.Equal(t, append(repeat("connectError", n), "connect", "closed", "close"), log.Names())
	want := []string{"retry.reset", "reconnect.reset"}
	want = append(want, repeat("retry.next", n)...) // one wait after each failure
	want = append(want, "retry.reset", "reconnect.reset")
	require.Equal(t, want, calls.get())
}

// After a drop, ReconnectDelay is the wait before the first attempt and
// RetryDelay the wait after each failed one; then connect, reconnect.
func TestReconnectDelayThenRetryDelay(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	srv1 := startServer(t, path)
	slog1 := eventlog.Record(srv1, "connection")
	calls := &callLog{}
	retry := counting("retry", backoff.Constant(fast), calls)
	recon := counting("reconnect", backoff.Constant(fast), calls)
	cli := newClient(t, client.Options{SocketFile: path, RetryDelay: retry, ReconnectDelay: recon})
	log := eventlog.Record(cli, clientEvents...)
	require.NoError(t, cli.Connect())
	log.Wait(t, "connect")
	slog1.Wait(t, "connection") // accepted, so its close is graceful

	require.NoError(t, srv1.Close()) // the server is down for a while
	log.Wait(t, "disconnect")
	log.WaitCount(t, "connectError", 2)
	startServer(t, path)
	log.Wait(t, "reconnect")
	require.NoError(t, cli.Close())

	n := log.Count("connectError")
	wantEvents := []string{"connect", "disconnect"}
	wantEvents = append(wantEvents, repeat("connectError", n)...)
	wantEvents = append(wantEvents, "connect", "reconnect", "closed", "close")
	require.Equal(t, wantEvents, log.Names())

	want := []string{"retry.reset", "reconnect.reset", "retry.reset", "reconnect.reset", "reconnect.next"}
	want = append(want, repeat("retry.next", n)...)
	want = append(want, "retry.reset", "reconnect.reset")
	require.Equal(t, want, calls.get())
}

// The defaults are Node's: RetryDelay 1 s, ReconnectDelay the documented 100 ms.
func TestDefaultDelays(t *testing.T) {
	leakcheck.Check(t)
	require.Equal(t, time.Second, client.DefaultRetryDelay)
	require.Equal(t, 100*time.Millisecond, client.DefaultReconnectDelay)

	path := testsock.Path(t)
	cli := newClient(t, client.Options{SocketFile: path}) // nil policies
	log := eventlog.Record(cli, clientEvents...)
	connected := make(chan time.Time, 2)
	cli.On("connect", func() { connected <- time.Now() })

	t0 := time.Now()
	require.NoError(t, cli.Connect())
	log.Wait(t, "connectError")
	srv := startServer(t, path)
	slog := eventlog.Record(srv, "connection")
	log.Wait(t, "connect")
	retryWait := (<-connected).Sub(t0)
	t.Logf("first attempt failed, connected %v after Connect", retryWait)
	assert.GreaterOrEqual(t, retryWait, client.DefaultRetryDelay, "the default RetryDelay is 1 s")
	assert.Less(t, retryWait, 5*time.Second)

	id := slog.Wait(t, "connection").Arg(0).(string)
	t1 := time.Now()
	srv.Conn(id).Close()
	log.Wait(t, "reconnect")
	reconnectWait := (<-connected).Sub(t1)
	t.Logf("dropped, reconnected %v later", reconnectWait)
	assert.GreaterOrEqual(t, reconnectWait, client.DefaultReconnectDelay, "the default ReconnectDelay is 100 ms")
	assert.Less(t, reconnectWait, 5*time.Second)

	require.NoError(t, cli.Close())
	require.Equal(t, []string{"connectError", "connect", "disconnect", "connect", "reconnect", "closed", "close"}, log.Names())
}

// backoff.Random works as either policy, and its waits are at least min.
func TestRandomBackOff(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	const lo, hi = 10 * time.Millisecond, 40 * time.Millisecond
	cli := newClient(t, client.Options{
		SocketFile:     path,
		RetryDelay:     backoff.Random(lo, hi),
		ReconnectDelay: backoff.Random(lo, hi),
	})
	log := eventlog.Record(cli, clientEvents...)
	failures := make(chan time.Time, 100)
	cli.On("connectError", func() { failures <- time.Now() })
	connected := make(chan time.Time, 2)
	cli.On("connect", func() { connected <- time.Now() })

	t0 := time.Now()
	require.NoError(t, cli.Connect())
	log.WaitCount(t, "connectError", 3)
	<-failures
	<-failures
	third := <-failures
	assert.GreaterOrEqual(t, third.Sub(t0), 2*lo, "two random waits of at least %v each", lo)

	srv := startServer(t, path)
	slog := eventlog.Record(srv, "connection")
	log.Wait(t, "connect")
	<-connected
	id := slog.Wait(t, "connection").Arg(0).(string)
	t1 := time.Now()
	srv.Conn(id).Close()
	log.Wait(t, "reconnect")
	assert.GreaterOrEqual(t, (<-connected).Sub(t1), lo)
	require.NoError(t, cli.Close())
	require.Equal(t, []string{"connect", "disconnect", "connect", "reconnect", "closed", "close"},
		without(log.Names(), "connectError"))
}

// A RetryDelay that returns Stop ends the trying: error (ErrGaveUp wrapping
// the last dial error), then closed and close; the client is closed.
func TestRetryDelayStop(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	calls := &callLog{}
	retry := counting("retry", backoff.Constant(fast), calls)
	retry.stopAfter = 3
	cli := newClient(t, client.Options{SocketFile: path, RetryDelay: retry, ReconnectDelay: backoff.Constant(fast)})
	log := eventlog.Record(cli, clientEvents...)
	lastDialErr := make(chan error, 10)
	cli.On("connectError", func(err error) { lastDialErr <- err })
	require.NoError(t, cli.Connect())
	log.Wait(t, "close")

	require.Equal(t, []string{"connectError", "connectError", "connectError", "error", "closed", "close"}, log.Names())
	require.Equal(t, 3, retry.nextCalls())
	gaveUp := log.Wait(t, "error").Err()
	require.ErrorIs(t, gaveUp, client.ErrGaveUp)
	<-lastDialErr
	<-lastDialErr
	require.ErrorIs(t, gaveUp, <-lastDialErr, "ErrGaveUp wraps the last dial error")
	require.ErrorIs(t, gaveUp, syscall.ENOENT)
	var opErr *net.OpError
	require.ErrorAs(t, gaveUp, &opErr)

	assertClosedClient(t, cli, log)
}

// A ReconnectDelay that returns Stop after a drop ends the trying the same way.
func TestReconnectDelayStop(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	srv := startServer(t, path)
	slog := eventlog.Record(srv, "connection", "connectionClose")
	calls := &callLog{}
	recon := counting("reconnect", backoff.Constant(fast), calls)
	recon.stopAfter = 1
	cli := newClient(t, client.Options{SocketFile: path, RetryDelay: backoff.Constant(fast), ReconnectDelay: recon})
	log := eventlog.Record(cli, clientEvents...)
	require.NoError(t, cli.Connect())
	log.Wait(t, "connect")
	id := slog.Wait(t, "connection").Arg(0).(string)
	srv.Conn(id).Close()
	log.Wait(t, "close")
	slog.Wait(t, "connectionClose")

	require.Equal(t, []string{"connect", "disconnect", "error", "closed", "close"}, log.Names())
	require.ErrorIs(t, log.Wait(t, "error").Err(), client.ErrGaveUp)
	require.Equal(t, 1, recon.nextCalls())
	require.Equal(t, []string{"connection", "connectionClose"}, slog.Names(), "no further connection")

	assertClosedClient(t, cli, log)
}

// assertClosedClient checks a client that gave up: Send fails with
// ErrSendAfterClose (returned and emitted), Connect with ErrClientClosed,
// Close returns nil and emits nothing more.
func assertClosedClient(t *testing.T, cli *client.Client, log *eventlog.Log) {
	t.Helper()
	err := cli.Send("late", 1)
	require.ErrorIs(t, err, message.ErrSendAfterClose)
	var se *message.SendError
	require.ErrorAs(t, err, &se)
	require.Equal(t, "late", se.Topic)
	require.ErrorIs(t, log.Wait(t, "error").Err(), message.ErrSendAfterClose, "the send error is emitted too")

	require.ErrorIs(t, cli.Connect(), client.ErrClientClosed)
	require.ErrorIs(t, log.Wait(t, "error").Err(), client.ErrClientClosed)

	within(t, guard, "Close", func() { require.NoError(t, cli.Close()) })
	require.Equal(t, 1, log.Count("close"))
	require.Equal(t, 1, log.Count("closed"))
	require.Nil(t, cli.Conn())
}

// Close during a long retry wait returns promptly and leaves nothing behind.
func TestCloseDuringRetryWait(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	cli := newClient(t, client.Options{SocketFile: path, RetryDelay: backoff.Constant(time.Hour)})
	log := eventlog.Record(cli, clientEvents...)
	require.NoError(t, cli.Connect())
	log.Wait(t, "connectError")
	start := time.Now()
	within(t, guard, "Close", func() { require.NoError(t, cli.Close()) })
	require.Less(t, time.Since(start), 2*time.Second, "Close waited for the retry delay")
	require.Equal(t, []string{"connectError", "closed", "close"}, log.Names())
}

// Close during a long reconnect wait returns promptly too.
func TestCloseDuringReconnectWait(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	srv := startServer(t, path)
	slog := eventlog.Record(srv, "connection")
	cli := newClient(t, client.Options{SocketFile: path, ReconnectDelay: backoff.Constant(time.Hour)})
	log := eventlog.Record(cli, clientEvents...)
	require.NoError(t, cli.Connect())
	log.Wait(t, "connect")
	srv.Conn(slog.Wait(t, "connection").Arg(0).(string)).Close()
	log.Wait(t, "disconnect")
	start := time.Now()
	within(t, guard, "Close", func() { require.NoError(t, cli.Close()) })
	require.Less(t, time.Since(start), 2*time.Second, "Close waited for the reconnect delay")
	require.Equal(t, []string{"connect", "disconnect", "closed", "close"}, log.Names())
}
