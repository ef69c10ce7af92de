//go:build linux || darwin || freebsd || openbsd || netbsd

package conn

import (
	"net"
	"os"
	"testing"

	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Both ends of a real connection name this process: pid, effective uid and
// gid, on every system with peer credentials.
func TestReadPeerCredBothEnds(t *testing.T) {
	server, client := unixPair(t)
	me := PeerCred{PID: int32(os.Getpid()), UID: uint32(os.Geteuid()), GID: uint32(os.Getegid())}
	for name, nc := range map[string]*net.UnixConn{"server end": server, "client end": client} {
		got, err := ReadPeerCred(nc)
		require.NoError(t, err, name)
		assert.Equal(t, me, got, name)
	}
}

// unixPair connects a client to a listener on a fresh socket file.
func unixPair(t *testing.T) (server, client *net.UnixConn) {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: testsock.Path(t), Net: "unix"})
	require.NoError(t, err)
	defer l.Close()
	client, err = net.DialUnix("unix", nil, l.Addr().(*net.UnixAddr))
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	server, err = l.AcceptUnix()
	require.NoError(t, err)
	t.Cleanup(func() { server.Close() })
	return server, client
}
