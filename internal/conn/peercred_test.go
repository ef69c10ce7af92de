//go:build linux || darwin || freebsd || openbsd || netbsd

package conn

import (
	"net"
	"os"
	"testing"

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
