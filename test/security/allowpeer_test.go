//go:build unix

package security

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socketipc/socketipc/backoff"
	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sameUID is an AllowPeer that only lets in this process's own user.
func sameUID(cred server.PeerCred) error {
	if me := uint32(os.Getuid()); cred.UID != me {
		return fmt.Errorf("uid %d is not %d", cred.UID, me)
	}
	return nil
}

// countEvents counts the events of that name for which match holds.
func countEvents(events []eventlog.Event, name string, match func(eventlog.Event) bool) int {
	n := 0
	for _, e := range events {
		if e.Name == name && match(e) {
			n++
		}
	}
	return n
}

// A server that only lets in its own uid refuses a client of another user
// for real: every attempt is an error event matching server.ErrPeerRefused
// that names the uid (and pid); the refused client sees its connection
// closed, so it gets disconnect and reconnect attempts, and never a message.
// A client of the same uid, in another process, is served as usual.
func TestAllowPeerRefusesAnotherUser(t *testing.T) {
	needRoot(t)
	leakcheck.Check(t)
	path := filepath.Join(sharedDir(t, -1), "s.sock")
	srv, err := server.New(server.Options{SocketFile: path, SocketMode: 0o666, AllowPeer: sameUID})
	require.NoError(t, err)
	log := eventlog.Record(srv, "connection", "connectionClose", "message", "error")
	srv.On("connection", func(id string) { _ = srv.Send("welcome", "hi", id) })
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	require.NoError(t, srv.Listen())

	intruder := startHelper(t, nobody, "client", path)
	pid := intruder.cmd.Process.Pid
	refused := func(e eventlog.Event) bool { return errors.Is(e.Err(), server.ErrPeerRefused) }
	log.Until(t, "three refusals", func(events []eventlog.Event) bool { return countEvents(events, "error", refused) >= 3 })
	intruder.log.WaitCount(t, "disconnect", 2)
	intruder.log.WaitCount(t, "reconnect", 1)

	for _, e := range log.All() {
		require.Equal(t, "error", e.Name, "the intruder got nowhere: %v", log.All())
		err := e.Err()
		require.ErrorIs(t, err, server.ErrPeerRefused)
		assert.Contains(t, err.Error(), fmt.Sprintf("pid %d, uid %d, gid %d", pid, nobody, nobody))
		assert.Contains(t, err.Error(), fmt.Sprintf("uid %d is not %d", nobody, os.Getuid()), "AllowPeer's reason is kept")
	}

	// A client of our own uid, in another process, is let in and served.
	friend := startHelper(t, -1, "client", path)
	ev := log.Wait(t, "connection")
	id := ev.Arg(0).(string)
	got, err := ev.Arg(1).(*server.Conn).PeerCred()
	require.NoError(t, err)
	assert.Equal(t, cred{PID: int32(friend.cmd.Process.Pid), UID: 0, GID: 0}, peerCred(server.PeerCred(got)))
	assert.Equal(t, "welcome", friend.wait(t, "message").Topic)
	assert.Equal(t, "hello", log.Wait(t, "message").Arg(1))
	require.NoError(t, srv.Broadcast("news", 1))
	assert.Equal(t, "news", friend.wait(t, "message").Topic)
	assert.Equal(t, []string{id}, srv.ClientIDs(), "only the friend is a client")

	intruder.stop(t) // its output is complete now
	assert.Empty(t, intruder.reports("message"), "the refused client never got a message")
	assert.Equal(t, pid, int(intruder.reports("connect")[0].Self.PID))
	assert.Equal(t, 1, log.Count("connection"))
}

// The client side: a client that only accepts a server of its own uid
// refuses one run by another user. Each attempt is a "connectError"
// matching client.ErrPeerRefused that names the server's uid and pid; the
// client never emits "connect" and never gets a message, and keeps
// retrying after RetryDelay. The server saw each connection come and go.
func TestClientAllowPeerRefusesAnotherUser(t *testing.T) {
	needRoot(t)
	leakcheck.Check(t)
	path := filepath.Join(sharedDir(t, nobody), "s.sock")
	srv := startHelper(t, nobody, "serve", path)
	srv.listening(t)
	pid := srv.cmd.Process.Pid

	cli, err := client.New(client.Options{
		SocketFile: path,
		RetryDelay: backoff.Constant(10 * time.Millisecond),
		AllowPeer:  func(cred client.PeerCred) error { return sameUID(server.PeerCred(cred)) },
	})
	require.NoError(t, err)
	log := eventlog.Record(cli, "connect", "connectError", "message", "error")
	t.Cleanup(func() { _ = cli.Close() })
	require.NoError(t, cli.Connect())
	log.WaitCount(t, "connectError", 3)
	srv.log.WaitCount(t, "connectionClose", 3)
	require.NoError(t, cli.Close())

	for _, e := range log.All() {
		require.Equal(t, "connectError", e.Name, "%v", log.All())
		err := e.Err()
		require.ErrorIs(t, err, client.ErrPeerRefused)
		assert.Contains(t, err.Error(), fmt.Sprintf("pid %d, uid %d, gid %d", pid, nobody, nobody))
		assert.Contains(t, err.Error(), fmt.Sprintf("uid %d is not %d", nobody, os.Getuid()))
	}
	for _, r := range srv.reports("connection") {
		require.NotNil(t, r.Cred)
		assert.Equal(t, self(), *r.Cred)
	}

	// Allowing that uid lets the same client code in.
	ok, err := client.New(client.Options{SocketFile: path, AllowPeer: func(c client.PeerCred) error {
		if c.UID != nobody {
			return errors.New("not nobody")
		}
		return nil
	}})
	require.NoError(t, err)
	okLog := eventlog.Record(ok, "connect", "connectError", "message.welcome", "error")
	t.Cleanup(func() { require.NoError(t, ok.Close()) })
	require.NoError(t, ok.Connect())
	got, err := okLog.Wait(t, "connect").Arg(0).(*client.Conn).PeerCred()
	require.NoError(t, err)
	assert.Equal(t, cred{PID: int32(pid), UID: nobody, GID: nobody}, peerCred(server.PeerCred(got)))
	okLog.Wait(t, "message.welcome")
	assert.Zero(t, okLog.Count("connectError")+okLog.Count("error"), "%v", okLog.All())
}

// The client-side decision without a second user (any system): AllowPeer
// sees the server's credentials (this process), a refusal is a
// connectError and a retry, and an acceptance connects as usual; the
// server saw each refused connection come and go, without an error.
func TestClientAllowPeerDecision(t *testing.T) {
	leakcheck.Check(t)
	path := filepath.Join(sharedDir(t, -1), "s.sock")
	srv, err := server.New(server.Options{SocketFile: path})
	require.NoError(t, err)
	srvLog := eventlog.Record(srv, "connection", "connectionClose", "message", "error")
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	require.NoError(t, srv.Listen())

	var (
		mu     sync.Mutex
		seen   []cred
		accept bool
	)
	reason := errors.New("not yet")
	cli, err := client.New(client.Options{
		SocketFile: path,
		RetryDelay: backoff.Constant(10 * time.Millisecond),
		AllowPeer: func(c client.PeerCred) error {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, peerCred(server.PeerCred(c)))
			if !accept {
				return reason
			}
			return nil
		},
	})
	require.NoError(t, err)
	log := eventlog.Record(cli, "connect", "connectError", "message", "error")
	t.Cleanup(func() { require.NoError(t, cli.Close()) })
	require.NoError(t, cli.Connect())

	log.WaitCount(t, "connectError", 2)
	err = log.Wait(t, "connectError").Err()
	require.ErrorIs(t, err, client.ErrPeerRefused)
	require.ErrorIs(t, err, reason)
	assert.Contains(t, err.Error(), fmt.Sprintf("pid %d, uid %d, gid %d", os.Getpid(), os.Getuid(), os.Getgid()))
	srvLog.WaitCount(t, "connectionClose", 2)
	assert.Zero(t, log.Count("connect")+log.Count("message"))
	assert.Nil(t, cli.Conn())

	mu.Lock()
	accept = true
	mu.Unlock()
	log.Wait(t, "connect")
	require.NoError(t, cli.Send("hello", 1))
	id := srvLog.Wait(t, "message").Arg(2).(string)
	require.NoError(t, srv.Send("welcome", "hi", id))
	assert.Equal(t, []any{"hi", "welcome"}, log.Wait(t, "message").Args)
	mu.Lock()
	for _, c := range seen {
		assert.Equal(t, self(), c)
	}
	mu.Unlock()
	assert.Zero(t, log.Count("error")+srvLog.Count("error"), "%v %v", log.All(), srvLog.All())
}

// A panic in AllowPeer, whose input comes from the peer, refuses that peer
// and is reported; it does not crash the process, and the next peer is
// asked again. Server side and client side.
func TestAllowPeerPanicRefuses(t *testing.T) {
	leakcheck.Check(t)
	var calls atomic.Int32
	panicky := func(server.PeerCred) error {
		if calls.Add(1) == 1 {
			panic("bug in the check")
		}
		return nil
	}
	path := filepath.Join(sharedDir(t, -1), "s.sock")
	srv, err := server.New(server.Options{SocketFile: path, AllowPeer: panicky})
	require.NoError(t, err)
	log := eventlog.Record(srv, "connection", "error")
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	require.NoError(t, srv.Listen())

	refused, err := net.Dial("unix", path)
	require.NoError(t, err)
	defer refused.Close()
	err = log.Wait(t, "error").Err()
	require.ErrorIs(t, err, server.ErrPeerRefused)
	assert.Contains(t, err.Error(), "AllowPeer panicked: bug in the check")
	require.NoError(t, refused.SetReadDeadline(time.Now().Add(eventlog.Timeout)))
	_, err = refused.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "the refused connection is closed")

	// The client side, against the same server (which now lets everyone in).
	var clientCalls atomic.Int32
	cli, err := client.New(client.Options{
		SocketFile: path,
		RetryDelay: backoff.Constant(10 * time.Millisecond),
		AllowPeer: func(client.PeerCred) error {
			if clientCalls.Add(1) == 1 {
				panic(errors.New("bug in the client's check"))
			}
			return nil
		},
	})
	require.NoError(t, err)
	cliLog := eventlog.Record(cli, "connect", "connectError", "error")
	t.Cleanup(func() { require.NoError(t, cli.Close()) })
	require.NoError(t, cli.Connect())
	err = cliLog.Wait(t, "connectError").Err()
	require.ErrorIs(t, err, client.ErrPeerRefused)
	assert.Contains(t, err.Error(), "AllowPeer panicked: bug in the client's check")
	cliLog.Wait(t, "connect")
	log.Wait(t, "connection") // the server let the retry in
	assert.Zero(t, cliLog.Count("error"), "%v", cliLog.All())
}
