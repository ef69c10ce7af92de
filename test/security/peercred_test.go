//go:build unix

package security

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// self is this process's credentials as a peer sees them.
func self() cred {
	return cred{PID: int32(os.Getpid()), UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
}

func peerCred(c server.PeerCred) cred { return cred{PID: c.PID, UID: c.UID, GID: c.GID} }

// asCred reads a message payload (the plain JSON value an event log
// records, or raw JSON) that holds credentials.
func asCred(t *testing.T, payload any) cred {
	t.Helper()
	b, err := json.Marshal(payload)
	require.NoError(t, err)
	var c cred
	require.NoError(t, json.Unmarshal(b, &c), "%s", b)
	return c
}

// The server's conn.PeerCred() names a client of another user, in another
// process; and that client's conn.PeerCred() names the server (this
// process). (In-process, both ends see this process: server
// TestEventsLifecycle and client TestConnectEvent.)
func TestPeerCredServerSeesOtherUser(t *testing.T) {
	needRoot(t)
	leakcheck.Check(t)
	path := filepath.Join(sharedDir(t, -1), "s.sock")
	srv, err := server.New(server.Options{SocketFile: path, SocketMode: 0o666})
	require.NoError(t, err)
	log := eventlog.Record(srv, "connection", "message", "error")
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	require.NoError(t, srv.Listen())

	cli := startHelper(t, nobody, "client", path)
	want := cred{PID: int32(cli.cmd.Process.Pid), UID: nobody, GID: nobody}

	ev := log.Wait(t, "connection")
	c := ev.Arg(1).(*server.Conn)
	got, err := c.PeerCred()
	require.NoError(t, err)
	assert.Equal(t, want, peerCred(got), "the server's view of the client")
	hello := log.Wait(t, "message")
	assert.Equal(t, want, asCred(t, hello.Arg(0)), "what the client says it is")

	connect := cli.wait(t, "connect")
	require.NotNil(t, connect.Cred, "client PeerCred error: %s", connect.Err)
	assert.Equal(t, self(), *connect.Cred, "the client's view of the server")
	assert.Zero(t, log.Count("error"), "%v", log.All())
}

// A client's conn.PeerCred() names a server of another user, in another
// process, and that server sees this process.
func TestPeerCredClientSeesOtherUser(t *testing.T) {
	needRoot(t)
	leakcheck.Check(t)
	path := filepath.Join(sharedDir(t, nobody), "s.sock")
	srv := startHelper(t, nobody, "serve", path, "-mode", "600")
	srv.listening(t)
	want := cred{PID: int32(srv.cmd.Process.Pid), UID: nobody, GID: nobody}

	cli, err := client.New(client.Options{SocketFile: path})
	require.NoError(t, err)
	log := eventlog.Record(cli, "connect", "message.welcome", "error")
	t.Cleanup(func() { require.NoError(t, cli.Close()) })
	require.NoError(t, cli.Connect())

	c := log.Wait(t, "connect").Arg(0).(*client.Conn)
	got, err := c.PeerCred()
	require.NoError(t, err)
	assert.Equal(t, want, peerCred(server.PeerCred(got)), "the client's view of the server")

	seen := srv.wait(t, "connection")
	require.NotNil(t, seen.Cred, "server PeerCred error: %s", seen.Err)
	assert.Equal(t, self(), *seen.Cred, "the server's view of the client")
	assert.Equal(t, self(), asCred(t, log.Wait(t, "message.welcome").Arg(0)), "what the server says it saw")
	assert.Zero(t, log.Count("error"), "%v", log.All())
}
