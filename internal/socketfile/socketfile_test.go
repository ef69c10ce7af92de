//go:build unix

package socketfile

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/socketipc/socketipc/internal/testkit/testsock"
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

// longPath returns a socket path of the longest allowed length whose
// private folder beside it would be too long for a socket address.
func longPath(t *testing.T) string {
	t.Helper()
	dir := filepath.Dir(testsock.Path(t))
	const name = "s.sock"
	sub := filepath.Join(dir, strings.Repeat("d", MaxPathLen-len(dir)-2-len(name)))
	require.NoError(t, os.Mkdir(sub, 0o755))
	path := filepath.Join(sub, name)
	require.Len(t, path, MaxPathLen)
	require.Greater(t, len(filepath.Join(sub, ".sipc00000000", "s")), MaxPathLen)
	return path
}

// The long-path way (bound through /proc/self/fd): exact mode, the umask
// untouched, nothing left beside the socket.
func TestBindWithModeLongPath(t *testing.T) {
	before := umask()
	for _, mode := range []os.FileMode{0o600, 0o660, 0o666, 0o777} {
		path := longPath(t)
		l, err := bindWithMode(path, mode)
		require.NoError(t, err)
		fi, err := os.Lstat(path)
		require.NoError(t, err)
		assert.Equal(t, os.ModeSocket, fi.Mode().Type())
		assert.Equal(t, mode, fi.Mode().Perm())
		assert.Equal(t, before, umask())
		entries, err := os.ReadDir(filepath.Dir(path))
		require.NoError(t, err)
		require.Len(t, entries, 1, "only the socket is left in its folder")
		c, err := net.Dial("unix", path)
		require.NoError(t, err)
		c.Close()
		require.NoError(t, l.Close())
		_, err = os.Lstat(path)
		assert.ErrorIs(t, err, os.ErrNotExist, "Close removes it: it is recorded as ours")
	}
}

// SocketMode never loosens the files other goroutines create meanwhile: a
// goroutine creating files with 0666 while Listen binds long and short
// paths with SocketMode 0666 always gets 0666 &^ umask. (The umask route
// this replaced set the umask to ^mode for the bind: such files came out
// rw-rw-rw-.)
func TestSocketModeLeavesOtherFilesAlone(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	stop := make(chan struct{})
	done := make(chan []os.FileMode)
	go func() {
		var wrong []os.FileMode
		defer func() { done <- wrong }()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			name := filepath.Join(dir, fmt.Sprint("f", i%64))
			f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
			if err != nil {
				continue
			}
			fi, err := f.Stat()
			f.Close()
			os.Remove(name)
			if err == nil && fi.Mode().Perm() != 0o644 {
				wrong = append(wrong, fi.Mode().Perm())
			}
		}
	}()
	for i := range 400 {
		path := testsock.Path(t)
		if i%2 == 0 {
			path = longPath(t)
		}
		l, err := Listen(path, 0o666)
		require.NoError(t, err)
		fi, err := os.Lstat(path)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o666), fi.Mode().Perm())
		require.NoError(t, l.Close())
	}
	close(stop)
	wrong := <-done
	assert.Empty(t, len(wrong), "files created during Listen with a wider mode than the umask allows (such as %v)", wrong[:min(len(wrong), 1)])
	assert.Equal(t, 0o022, umask())
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

// Listen's errors follow the "socketipc: listen on <path>: " its caller
// adds: they say neither "socketipc:" nor the path, and keep the errors of
// the net and os packages in their chains. Validate's errors stand alone:
// "socketipc:" once, the path once.
func TestErrorTexts(t *testing.T) {
	dir := filepath.Dir(testsock.Path(t)) // a fresh folder with a short path
	live := filepath.Join(dir, "live.sock")
	l, err := Listen(live, 0)
	require.NoError(t, err)
	defer l.Close()
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	missing := filepath.Join(dir, "nowhere", "s.sock")

	for _, c := range []struct {
		path string
		mode os.FileMode
		want string
		is   error
	}{
		{live, 0, "address already in use: a server is listening on it", syscall.EADDRINUSE},
		{live, 0o600, "address already in use: a server is listening on it", syscall.EADDRINUSE},
		{file, 0, "address already in use: it is not a socket (a regular file); refusing to remove it", syscall.EADDRINUSE},
		{dir, 0, "address already in use: it is not a socket (a directory); refusing to remove it", syscall.EADDRINUSE},
		{missing, 0, "bind: no such file or directory", syscall.ENOENT},
		{missing, 0o600, "mkdir: no such file or directory", syscall.ENOENT},
	} {
		_, err := Listen(c.path, c.mode)
		if assert.Error(t, err) {
			assert.Equal(t, c.want, err.Error(), "%s, mode %#o", c.path, c.mode)
			assert.ErrorIs(t, err, c.is)
			wrapped := fmt.Sprintf("socketipc: listen on %s: %v", c.path, err) // as the server wraps it
			assert.Equal(t, 1, strings.Count(wrapped, c.path), wrapped)
			assert.Equal(t, 1, strings.Count(wrapped, "socketipc:"), wrapped)
		}
	}
	_, err = Listen(live, 0)
	var op *net.OpError
	assert.ErrorAs(t, err, &op, "the net package's error is in the chain")

	for _, c := range []struct{ path, want string }{
		{"", `socketipc: invalid SocketFile: it is empty`},
		{"1234", `socketipc: invalid SocketFile "1234": it looks like a port; socketipc only uses Unix socket files`},
		{"/" + strings.Repeat("x", MaxPathLen), fmt.Sprintf(`socketipc: invalid SocketFile "/%s": %d bytes, over the %d-byte limit of a Unix socket path on this system`,
			strings.Repeat("x", MaxPathLen), MaxPathLen+1, MaxPathLen)},
	} {
		err := Validate(c.path)
		assert.Equal(t, c.want, err.Error())
		assert.ErrorIs(t, err, ErrInvalid)
	}
	assert.Equal(t, "SocketMode cannot be applied safely to a path this long here; use a shorter path", ErrLongPathWithMode.Error(),
		"only ever seen wrapped by Listen's caller")
}
