package client_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The first connect carries the connection (with the server's credentials,
// which here are this process's), and is not followed by reconnect.
func TestConnectEvent(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	srv := startServer(t, path)
	slog := eventlog.Record(srv, "connection", "connectionClose")
	cli := newClient(t, fastOptions(path))
	log := eventlog.Record(cli, clientEvents...)
	typed := make(chan *client.Conn, 1)
	cli.On("connect", func(c *client.Conn) { typed <- c })

	require.Nil(t, cli.Conn(), "no connection before Connect")
	require.NoError(t, cli.Connect())
	ev := log.Wait(t, "connect")
	require.Len(t, ev.Args, 1, "connect carries one argument: the connection")
	c, ok := ev.Arg(0).(*client.Conn)
	require.True(t, ok, "connect's argument is a *client.Conn, got %T", ev.Arg(0))
	select {
	case tc := <-typed:
		require.Same(t, c, tc, "a func(*client.Conn) listener gets the same connection")
	case <-time.After(guard):
		t.Fatal("typed connect listener not called")
	}
	require.Same(t, c, cli.Conn())

	cred, err := c.PeerCred()
	require.NoError(t, err)
	pid, uid := selfCred()
	assert.Equal(t, pid, cred.PID, "the server is this process")
	assert.Equal(t, uid, cred.UID)

	select {
	case <-c.Done():
		t.Fatal("connection ended while connected")
	default:
	}
	slog.Wait(t, "connection")

	require.NoError(t, cli.Close())
	// Close returns after every event was delivered.
	require.Equal(t, []string{"connect", "closed", "close"}, log.Names())
	select {
	case <-c.Done():
	default:
		t.Fatal("Conn.Done not closed after Close")
	}
	require.Nil(t, cli.Conn())
	slog.Wait(t, "connectionClose")
}

// A server that goes away and comes back: disconnect (no arguments), then
// connect immediately followed by reconnect, both with the new connection,
// and messages flow both ways on it.
func TestReconnectAfterServerRestart(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	srv1 := startServer(t, path)
	slog1 := eventlog.Record(srv1, "connection")
	cli := newClient(t, fastOptions(path))
	log := eventlog.Record(cli, append(clientEvents, "message.pong")...)
	cli.On("reconnect", func(c *client.Conn) {
		assert.NoError(t, cli.Send("ping", "after reconnect"))
	})
	require.NoError(t, cli.Connect())
	c1 := log.Wait(t, "connect").Arg(0).(*client.Conn)
	// Closing a server that has not accepted yet resets the connection
	// (an error event); here the server closes an accepted one gracefully.
	slog1.Wait(t, "connection")
	require.NoError(t, srv1.Close())
	dis := log.Wait(t, "disconnect")
	require.Empty(t, dis.Args, "disconnect has no arguments")
	select {
	case <-c1.Done():
	default:
		t.Fatal("disconnect emitted before the connection ended")
	}

	srv2 := startServer(t, path)
	slog := eventlog.Record(srv2, "message.ping")
	srv2.On("message.ping", func(msg any, id string) {
		assert.NoError(t, srv2.Send("pong", msg, id))
	})
	c2 := log.Wait(t, "connect").Arg(0).(*client.Conn)
	re := log.Wait(t, "reconnect")
	require.Same(t, c2, re.Arg(0), "reconnect carries the new connection")
	require.NotSame(t, c1, c2)

	require.Equal(t, "after reconnect", slog.Wait(t, "message.ping").Arg(0), "client to server after reconnect")
	require.Equal(t, "after reconnect", log.Wait(t, "message.pong").Arg(0), "server to client after reconnect")

	require.NoError(t, cli.Close())
	all := log.Names()
	require.Equal(t,
		[]string{"connect", "disconnect", "connect", "reconnect", "message", "message.pong", "closed", "close"},
		without(all, "connectError"), "all events: %v", log.All())
	i := slices.Index(all, "reconnect")
	require.Equal(t, "connect", all[i-1], "reconnect comes right after connect: %v", all)
}

// A raw server that accepts and drops the connection at once: the client
// disconnects, and reconnects to the next accept.
func TestReconnectAfterRawDrop(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	raw := listenRaw(t, path)
	cli := newClient(t, fastOptions(path))
	log := eventlog.Record(cli, append(clientEvents, "message.hi")...)
	require.NoError(t, cli.Connect())

	c1 := raw.accept()
	log.Wait(t, "connect")
	require.NoError(t, c1.Close())
	log.Wait(t, "disconnect")

	c2 := raw.accept()
	log.Wait(t, "connect")
	log.Wait(t, "reconnect")
	_, err := c2.Write(frame("hi", "there"))
	require.NoError(t, err)
	require.Equal(t, "there", log.Wait(t, "message.hi").Arg(0))
	require.NoError(t, cli.Send("back", 42))
	fr := newFrameReader(c2)
	got, err := readN(c2, fr, 1, guard)
	require.NoError(t, err)
	require.Equal(t, gotFrame{Topic: "back", Payload: []byte("42")}, got[0])

	go func() { readAll(c2, guard); c2.Close() }() // let the client's Close end gracefully
	require.NoError(t, cli.Close())
	require.Equal(t,
		[]string{"connect", "disconnect", "connect", "reconnect", "message", "message.hi", "closed", "close"},
		log.Names())
}

// message (msg, topic) comes before message.<topic> (msg), for each message,
// in the order sent; an empty topic arrives as "none".
func TestMessageEvents(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	srv := startServer(t, path)
	srv.On("connection", func(id string) {
		assert.NoError(t, srv.Send("greet", map[string]any{"a": 1}, id))
		assert.NoError(t, srv.Send("list", []any{1, "x"}, id))
		assert.NoError(t, srv.Send("", "no topic", id))
		assert.NoError(t, srv.Send("greet", nil, id))
	})
	cli := newClient(t, fastOptions(path))
	log := eventlog.Record(cli, "message", "message.greet", "message.list", "message.none", "error")
	require.NoError(t, cli.Connect())
	log.WaitCount(t, "message", 4)
	log.WaitCount(t, "message.greet", 2)
	require.NoError(t, cli.Close())

	want := []eventlog.Event{
		{Name: "message", Args: []any{map[string]any{"a": 1.0}, "greet"}},
		{Name: "message.greet", Args: []any{map[string]any{"a": 1.0}}},
		{Name: "message", Args: []any{[]any{1.0, "x"}, "list"}},
		{Name: "message.list", Args: []any{[]any{1.0, "x"}}},
		{Name: "message", Args: []any{"no topic", "none"}},
		{Name: "message.none", Args: []any{"no topic"}},
		{Name: "message", Args: []any{nil, "greet"}},
		{Name: "message.greet", Args: []any{nil}},
	}
	require.Equal(t, want, log.All())
}

// Close twice: closed then close, once each; the second Close returns at once.
func TestCloseTwice(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	startServer(t, path)
	cli := newClient(t, fastOptions(path))
	log := eventlog.Record(cli, clientEvents...)
	require.NoError(t, cli.Connect())
	log.Wait(t, "connect")
	within(t, guard, "Close", func() { require.NoError(t, cli.Close()) })
	within(t, guard, "second Close", func() { require.NoError(t, cli.Close()) })
	require.Equal(t, []string{"connect", "closed", "close"}, log.Names())
}

// Close from several goroutines at once: all return, the events come once.
func TestCloseConcurrent(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	startServer(t, path)
	cli := newClient(t, fastOptions(path))
	log := eventlog.Record(cli, clientEvents...)
	require.NoError(t, cli.Connect())
	log.Wait(t, "connect")
	var wg sync.WaitGroup
	within(t, guard, "concurrent Close", func() {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cli.Close()
			}()
		}
		wg.Wait()
	})
	require.Equal(t, []string{"connect", "closed", "close"}, log.Names())
}

// Close from inside a listener: it does not deadlock, the server sees the
// connection end, close comes once, and a later Close returns.
func TestCloseFromListener(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	srv := startServer(t, path)
	slog := eventlog.Record(srv, "connectionClose")
	srv.On("connection", func(id string) { srv.Send("bye", nil, id) })
	cli := newClient(t, fastOptions(path))
	log := eventlog.Record(cli, clientEvents...)
	closeErr := make(chan error, 2)
	cli.On("message.bye", func() {
		closeErr <- cli.Close()
		closeErr <- cli.Close() // again, still inside the listener
	})
	require.NoError(t, cli.Connect())
	log.Wait(t, "close")
	for range 2 {
		select {
		case err := <-closeErr:
			require.NoError(t, err)
		case <-time.After(guard):
			t.Fatal("Close inside a listener did not return")
		}
	}
	slog.Wait(t, "connectionClose")
	within(t, guard, "Close after close", func() { require.NoError(t, cli.Close()) })
	require.Equal(t, []string{"connect", "message", "closed", "close"}, log.Names())
}

// Close from a connectError listener stops the retries.
func TestCloseFromConnectErrorListener(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	cli := newClient(t, fastOptions(path))
	log := eventlog.Record(cli, clientEvents...)
	closeErr := make(chan error, 10)
	cli.On("connectError", func() { closeErr <- cli.Close() })
	require.NoError(t, cli.Connect())
	log.Wait(t, "close")
	within(t, guard, "Close inside listener", func() { require.NoError(t, <-closeErr) })
	within(t, guard, "Close", func() { require.NoError(t, cli.Close()) })
	all := log.Names()
	require.Equal(t, []string{"closed", "close"}, all[len(all)-2:], "nothing after close: %v", all)
	require.Equal(t, []string{"closed", "close"}, without(all, "connectError"))
}

// Close before Connect: closed and close at once; Connect then fails.
func TestCloseBeforeConnect(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	cli := newClient(t, fastOptions(path))
	log := eventlog.Record(cli, clientEvents...)
	within(t, guard, "Close", func() { require.NoError(t, cli.Close()) })
	require.Equal(t, []string{"closed", "close"}, log.Names())

	err := cli.Connect()
	require.ErrorIs(t, err, client.ErrClientClosed)
	require.Equal(t, []string{"closed", "close", "error"}, log.Names())
	require.ErrorIs(t, log.Wait(t, "error").Err(), client.ErrClientClosed)
}

// Close while connected ends the connection gracefully: the server sees
// connectionClose for this client; the client emits no disconnect.
func TestCloseWhileConnected(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	srv := startServer(t, path)
	slog := eventlog.Record(srv, "connection", "connectionClose", "error")
	cli := newClient(t, fastOptions(path))
	log := eventlog.Record(cli, clientEvents...)
	require.NoError(t, cli.Connect())
	log.Wait(t, "connect")
	id := slog.Wait(t, "connection").Arg(0)
	require.NoError(t, cli.Close())
	require.Equal(t, id, slog.Wait(t, "connectionClose").Arg(0))
	require.Equal(t, []string{"connect", "closed", "close"}, log.Names())
	require.Equal(t, []string{"connection", "connectionClose"}, slog.Names())
	require.Empty(t, srv.ClientIDs())
}

// The server dropping this one client (server still up) gives disconnect and
// a reconnect to the same server.
func TestReconnectAfterServerDropsClient(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	srv := startServer(t, path)
	slog := eventlog.Record(srv, "connection")
	cli := newClient(t, fastOptions(path))
	log := eventlog.Record(cli, clientEvents...)
	require.NoError(t, cli.Connect())
	log.Wait(t, "connect")
	id1 := slog.Wait(t, "connection").Arg(0).(string)
	srv.Conn(id1).Close()
	log.Wait(t, "disconnect")
	log.Wait(t, "reconnect")
	id2 := slog.Wait(t, "connection").Arg(0).(string)
	require.NotEqual(t, id1, id2)
	require.NoError(t, cli.Close())
	require.Equal(t, []string{"connect", "disconnect", "connect", "reconnect", "closed", "close"}, log.Names())
}
