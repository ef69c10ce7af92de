package server_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socketipc/socketipc/backoff"
	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/server"
)

// A long flush timeout: a Close that waited for it would fail the test's
// time guard, so a Shutdown that returns in time did not wait for it.
const longFlush = time.Minute

// Shutdown with an expired context, against a client that does not read:
// the connection is dropped with what it still had queued, Shutdown returns
// at once with an error wrapping the context's, and the close event comes.
func TestShutdownExpiredAgainstAPeerThatDoesNotRead(t *testing.T) {
	leakcheck.Check(t)
	guard(t, longFlush/2)
	srv, log := startServer(t, server.Options{FlushTimeout: longFlush}, "closed")
	p := dialRaw(t, srv, log) // never reads
	big := strings.Repeat("x", 1<<20)
	for range 16 {
		require.NoError(t, srv.Send("big", big, p.ID))
	}
	require.Positive(t, srv.Conn(p.ID).QueuedBytes(), "the peer's socket is full")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := srv.Shutdown(ctx)
	require.ErrorIs(t, err, context.Canceled)
	assert.True(t, strings.HasPrefix(err.Error(), "socketipc: shutdown: context canceled"), err.Error())
	assert.Contains(t, err.Error(), "queued bytes were not written")
	log.Wait(t, "connectionClose")
	log.Wait(t, "close")
	require.NoError(t, srv.Close(), "already closed")
}

// Shutdown whose context outlives the close is Close.
func TestShutdownInTime(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{})
	cli, clog, _ := connectClient(t, log, srv.SocketFile())
	ctx, cancel := context.WithTimeout(context.Background(), eventlog.Timeout)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	log.Wait(t, "close")
	clog.Wait(t, "disconnect")
	require.NoError(t, cli.Shutdown(ctx))
	clog.Wait(t, "close")
}

// The client's Shutdown, against a server that does not read: bounded too.
func TestClientShutdownExpired(t *testing.T) {
	leakcheck.Check(t)
	guard(t, longFlush/2)
	srv, log := startServer(t, server.Options{})
	cli, err := client.New(client.Options{SocketFile: srv.SocketFile(), FlushTimeout: longFlush})
	require.NoError(t, err)
	clog := eventlog.Record(cli, "connect", "close")
	require.NoError(t, cli.Connect())
	clog.Wait(t, "connect")
	log.Wait(t, "connection")
	// The server's listener blocks the connection's reader, so the
	// client's writes fill the socket and then its queue.
	release := make(chan struct{})
	defer close(release)
	srv.On("message.block", func() { <-release })
	require.NoError(t, cli.Send("block", nil))
	big := strings.Repeat("x", 1<<20)
	for range 16 {
		require.NoError(t, cli.Send("big", big))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = cli.Shutdown(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	clog.Wait(t, "close")
}

// WaitConnected returns at once when connected, at the next connect
// otherwise (across a reconnect too), with ctx's error when ctx ends
// first, and with ErrClientClosed after Close.
func TestWaitConnected(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{})
	cli, clog := newClient(t, srv.SocketFile(), "reconnect")

	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, cli.WaitConnected(short), context.DeadlineExceeded, "not connecting yet")

	ctx, cancelAll := context.WithTimeout(context.Background(), eventlog.Timeout)
	defer cancelAll()
	waited := make(chan error, 1)
	go func() { waited <- cli.WaitConnected(ctx) }()
	require.NoError(t, cli.Connect())
	require.NoError(t, <-waited)
	require.NotNil(t, cli.Conn(), "connected when WaitConnected returns")
	require.NoError(t, cli.Send("hello", 1), "Send works once WaitConnected returned")
	require.NoError(t, cli.WaitConnected(ctx), "already connected")

	// Across a reconnect: the server drops the connection.
	id := log.Wait(t, "connection").Arg(0).(string)
	first := cli.Conn()
	require.NoError(t, srv.Conn(id).Close())
	clog.Wait(t, "disconnect")
	require.NoError(t, cli.WaitConnected(ctx))
	assert.NotSame(t, first, cli.Conn())
	clog.Wait(t, "reconnect")

	go func() { waited <- cli.WaitConnected(context.Background()) }()
	require.NoError(t, <-waited)
	require.NoError(t, cli.Close())
	err := cli.WaitConnected(ctx)
	require.ErrorIs(t, err, client.ErrClientClosed)
	assert.Equal(t, "socketipc: wait connected: client closed", err.Error())
	assert.False(t, errors.Is(err, context.DeadlineExceeded))
}

type stopAtOnce struct{}

func (stopAtOnce) NextBackOff() time.Duration { return backoff.Stop }
func (stopAtOnce) Reset()                     {}

// A client that gives up (its policy stops) ends WaitConnected too.
func TestWaitConnectedAfterGivingUp(t *testing.T) {
	leakcheck.Check(t)
	cli, err := client.New(client.Options{SocketFile: testsock.Path(t), RetryDelay: stopAtOnce{}})
	require.NoError(t, err)
	log := eventlog.Record(cli, "connectError", "error", "close")
	require.NoError(t, cli.Connect())
	ctx, cancel := context.WithTimeout(context.Background(), eventlog.Timeout)
	defer cancel()
	require.ErrorIs(t, cli.WaitConnected(ctx), client.ErrClientClosed)
	require.ErrorIs(t, log.Wait(t, "error").Err(), client.ErrGaveUp)
	log.Wait(t, "close")
	require.NoError(t, cli.Close())
}
