//go:build !(linux || darwin || freebsd || openbsd || netbsd)

package conn

import (
	"errors"
	"net"
	"testing"

	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Where the system has no peer credentials, reading them says so with an
// error matching errors.ErrUnsupported, and invents nothing.
func TestReadPeerCredUnsupported(t *testing.T) {
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: testsock.Path(t), Net: "unix"})
	require.NoError(t, err)
	defer l.Close()
	c, err := net.DialUnix("unix", nil, l.Addr().(*net.UnixAddr))
	require.NoError(t, err)
	defer c.Close()
	got, err := ReadPeerCred(c)
	assert.True(t, errors.Is(err, errors.ErrUnsupported), "%v", err)
	assert.Equal(t, PeerCred{}, got)
}
