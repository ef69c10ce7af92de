//go:build unix

package socketfile

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/socketipc/socketipc/internal/testsock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidate(t *testing.T) {
	for _, bad := range []string{"", "0", "1234", "007", strings.Repeat("a", MaxPathLen+1)} {
		err := Validate(bad)
		require.ErrorIs(t, err, ErrInvalid, "%q", bad)
	}
	for _, good := range []string{"a", "1234.sock", "/tmp/1234", " 1", strings.Repeat("a", MaxPathLen)} {
		require.NoError(t, Validate(good), "%q", good)
	}
}

func umask() int {
	m := syscall.Umask(0o022)
	syscall.Umask(m)
	return m
}

// The umask fallback gives exactly the mode and restores the umask.
func TestBindWithUmask(t *testing.T) {
	before := umask()
	for _, mode := range []os.FileMode{0o600, 0o660, 0o666, 0o777} {
		path := testsock.Path(t)
		l, err := bindWithUmask(path, mode)
		require.NoError(t, err)
		fi, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, mode, fi.Mode().Perm())
		assert.Equal(t, before, umask())
		c, err := net.Dial("unix", path)
		require.NoError(t, err)
		c.Close()
		require.NoError(t, l.Close())
		_, err = os.Lstat(path)
		assert.ErrorIs(t, err, os.ErrNotExist)
	}
}

// The private-folder way: exact mode, nothing left beside the socket.
func TestBindWithMode(t *testing.T) {
	for _, mode := range []os.FileMode{0o600, 0o640, 0o666} {
		path := testsock.Path(t)
		l, err := bindWithMode(path, mode)
		require.NoError(t, err)
		fi, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, mode, fi.Mode().Perm())
		entries, err := os.ReadDir(filepath.Dir(path))
		require.NoError(t, err)
		require.Len(t, entries, 1)
		c, err := net.Dial("unix", path)
		require.NoError(t, err)
		c.Close()
		require.NoError(t, l.Close())
		_, err = os.Lstat(path)
		assert.ErrorIs(t, err, os.ErrNotExist)
	}
}

// Listen over a path in use: stale sockets go, everything else stays.
func TestListenInUse(t *testing.T) {
	path := testsock.Path(t)
	live, err := Listen(path, 0)
	require.NoError(t, err)
	_, err = Listen(path, 0)
	require.ErrorIs(t, err, syscall.EADDRINUSE)
	assert.Contains(t, err.Error(), "a server is listening")
	_, err = Listen(path, 0o600)
	require.ErrorIs(t, err, syscall.EADDRINUSE)

	// Stale after its listener died without removing it.
	require.NoError(t, live.UnixListener.Close())
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	require.Equal(t, os.ModeSocket, fi.Mode().Type())
	again, err := Listen(path, 0o600)
	require.NoError(t, err)
	fi, err = os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	// The first listener's Close must not remove the new file.
	require.NoError(t, os.Remove(path)) // pretend someone else took the path...
	third, err := Listen(path, 0)
	require.NoError(t, err)
	err = again.Close()
	require.NoError(t, err)
	_, err = os.Lstat(path)
	require.NoError(t, err, "a listener removed a socket file it did not create")
	require.NoError(t, third.Close())
	_, err = os.Lstat(path)
	require.True(t, errors.Is(err, os.ErrNotExist))
}
