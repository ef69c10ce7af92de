//go:build unix

package server_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/socketipc/socketipc/internal/socketfile"
	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// makeStale leaves a socket file at path with nobody listening, as a
// crashed server would.
func makeStale(t *testing.T, path string) {
	t.Helper()
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	require.NoError(t, err)
	ul.SetUnlinkOnClose(false)
	require.NoError(t, ul.Close())
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	require.Equal(t, os.ModeSocket, fi.Mode().Type())
	_, err = net.Dial("unix", path)
	require.ErrorIs(t, err, syscall.ECONNREFUSED, "the socket is stale")
}

// requireServes checks that a raw client reaches srv both ways.
func requireServes(t *testing.T, srv *server.Server, log *eventlog.Log) {
	t.Helper()
	p := dialRaw(t, srv, log)
	require.NoError(t, srv.Send("ping", 1, p.ID))
	require.Equal(t, `{"topic":"ping","message":1}`, string(p.frame(t)))
	require.NoError(t, p.Close())
	require.Equal(t, []any{p.ID}, log.Wait(t, "connectionClose").Args)
}

func TestSocketFileStaleIsReclaimed(t *testing.T) {
	for _, mode := range []os.FileMode{0, 0o600} {
		t.Run(mode.String(), func(t *testing.T) {
			leakcheck.Check(t)
			path := testsock.Path(t)
			makeStale(t, path)
			srv, log := startServer(t, server.Options{SocketFile: path, SocketMode: mode})
			requireServes(t, srv, log)
			assert.Zero(t, log.Count("error"), "errors: %v", log.All())
		})
	}
}

func TestSocketFileLiveServerIsKept(t *testing.T) {
	for _, mode := range []os.FileMode{0, 0o600} {
		t.Run(mode.String(), func(t *testing.T) {
			leakcheck.Check(t)
			first, log := startServer(t, server.Options{})
			path := first.SocketFile()
			before, err := os.Lstat(path)
			require.NoError(t, err)

			second, log2 := newServer(t, server.Options{SocketFile: path, SocketMode: mode})
			err = second.Listen()
			require.ErrorIs(t, err, syscall.EADDRINUSE)
			requireEmitted(t, log2, err)
			// The path once, "socketipc:" once.
			assert.Equal(t, "socketipc: listen on "+path+": address already in use: a server is listening on it", err.Error())
			require.NoError(t, second.Close())
			// The second server found the first live by connecting to it
			// (as Node does): the first saw that connection come and go.
			probe := log.Wait(t, "connection").Arg(0)
			assert.Equal(t, []any{probe}, log.Wait(t, "connectionClose").Args)

			after, err := os.Lstat(path)
			require.NoError(t, err, "the live server's socket file is still there")
			assert.True(t, os.SameFile(before, after), "and it is the same file")
			requireServes(t, first, log)
			assert.Zero(t, log.Count("error"))
			assert.Zero(t, log2.Count("listening"))
		})
	}
}

// Whatever is at the path and is not a socket is never removed.
func TestSocketFileNotASocketIsKept(t *testing.T) {
	setups := map[string]func(t *testing.T, path string) func(t *testing.T){
		"regular file": func(t *testing.T, path string) func(t *testing.T) {
			require.NoError(t, os.WriteFile(path, []byte("precious"), 0o644))
			return func(t *testing.T) {
				b, err := os.ReadFile(path)
				require.NoError(t, err)
				assert.Equal(t, "precious", string(b))
			}
		},
		"empty file": func(t *testing.T, path string) func(t *testing.T) {
			require.NoError(t, os.WriteFile(path, nil, 0o600))
			return func(t *testing.T) {
				fi, err := os.Lstat(path)
				require.NoError(t, err)
				assert.True(t, fi.Mode().IsRegular())
			}
		},
		"directory": func(t *testing.T, path string) func(t *testing.T) {
			require.NoError(t, os.Mkdir(path, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(path, "inside"), []byte("x"), 0o644))
			return func(t *testing.T) {
				b, err := os.ReadFile(filepath.Join(path, "inside"))
				require.NoError(t, err)
				assert.Equal(t, "x", string(b))
			}
		},
		"symlink to a file": func(t *testing.T, path string) func(t *testing.T) {
			target := path + ".target"
			require.NoError(t, os.WriteFile(target, []byte("precious"), 0o644))
			require.NoError(t, os.Symlink(target, path))
			return func(t *testing.T) {
				link, err := os.Readlink(path)
				require.NoError(t, err)
				assert.Equal(t, target, link)
				b, err := os.ReadFile(target)
				require.NoError(t, err)
				assert.Equal(t, "precious", string(b))
			}
		},
		"dangling symlink": func(t *testing.T, path string) func(t *testing.T) {
			require.NoError(t, os.Symlink(path+".nowhere", path))
			return func(t *testing.T) {
				link, err := os.Readlink(path)
				require.NoError(t, err)
				assert.Equal(t, path+".nowhere", link)
			}
		},
		"symlink to a stale socket": func(t *testing.T, path string) func(t *testing.T) {
			target := path + ".stale"
			makeStale(t, target)
			require.NoError(t, os.Symlink(target, path))
			return func(t *testing.T) {
				link, err := os.Readlink(path)
				require.NoError(t, err)
				assert.Equal(t, target, link)
				fi, err := os.Lstat(target)
				require.NoError(t, err)
				assert.Equal(t, os.ModeSocket, fi.Mode().Type())
			}
		},
	}
	for name, setup := range setups {
		for _, mode := range []os.FileMode{0, 0o660} {
			t.Run(name+"/"+mode.String(), func(t *testing.T) {
				leakcheck.Check(t)
				path := testsock.Path(t)
				check := setup(t, path)
				srv, log := newServer(t, server.Options{SocketFile: path, SocketMode: mode})
				err := srv.Listen()
				require.Error(t, err)
				assert.ErrorIs(t, err, syscall.EADDRINUSE)
				assert.Contains(t, err.Error(), "not a socket")
				requireEmitted(t, log, err)
				check(t)
				require.NoError(t, srv.Close())
				check(t)
				entries, err := os.ReadDir(filepath.Dir(path))
				require.NoError(t, err)
				for _, e := range entries {
					assert.False(t, strings.HasPrefix(e.Name(), ".sipc"), "leftover %s", e.Name())
				}
			})
		}
	}
}

func TestSocketFileRemovedOnClose(t *testing.T) {
	for _, mode := range []os.FileMode{0, 0o600} {
		t.Run(mode.String(), func(t *testing.T) {
			leakcheck.Check(t)
			srv, log := startServer(t, server.Options{SocketMode: mode})
			path := srv.SocketFile()
			fi, err := os.Lstat(path)
			require.NoError(t, err)
			require.Equal(t, os.ModeSocket, fi.Mode().Type())
			p := dialRaw(t, srv, log)
			p.hangUpOnEOF()
			require.NoError(t, srv.Close())
			_, err = os.Lstat(path)
			require.ErrorIs(t, err, os.ErrNotExist)
			entries, err := os.ReadDir(filepath.Dir(path))
			require.NoError(t, err)
			assert.Empty(t, entries, "nothing left in the socket's folder")
		})
	}
}

// A server that lost its path to another one leaves the newcomer's file.
func TestSocketFileCloseKeepsAnotherServersFile(t *testing.T) {
	leakcheck.Check(t)
	first, _ := startServer(t, server.Options{})
	path := first.SocketFile()
	require.NoError(t, os.Remove(path)) // someone removed it...
	second, log2 := startServer(t, server.Options{SocketFile: path})
	before, err := os.Lstat(path)
	require.NoError(t, err)

	require.NoError(t, first.Close())
	after, err := os.Lstat(path)
	require.NoError(t, err, "the first server's Close removed the second's socket file")
	assert.True(t, os.SameFile(before, after))
	requireServes(t, second, log2)
}

func TestSocketFileMode(t *testing.T) {
	oldMask := syscall.Umask(0o022)
	syscall.Umask(oldMask)
	for _, long := range []bool{false, true} {
		for _, mode := range []os.FileMode{0o600, 0o660, 0o666, 0o700} {
			name := mode.String()
			if long {
				name += "/long path"
			}
			t.Run(name, func(t *testing.T) {
				leakcheck.Check(t)
				path := testsock.Path(t)
				if long {
					path = longPath(t)
				}
				srv, log := startServer(t, server.Options{SocketFile: path, SocketMode: mode})
				fi, err := os.Stat(path)
				require.NoError(t, err)
				assert.Equal(t, os.ModeSocket, fi.Mode().Type())
				assert.Equal(t, mode, fi.Mode().Perm(), "socket mode")
				requireServes(t, srv, log)

				cur := syscall.Umask(0o022)
				syscall.Umask(cur)
				assert.Equal(t, oldMask, cur, "the process umask is restored")
				entries, err := os.ReadDir(filepath.Dir(path))
				require.NoError(t, err)
				require.Len(t, entries, 1, "only the socket file is in its folder")
				assert.Equal(t, filepath.Base(path), entries[0].Name())
			})
		}
	}
}

// longPath returns a socket path of MaxPathLen bytes (the longest allowed) in a
// fresh folder whose name is too long for a private folder beside it, so
// that the socket is bound through /proc/self/fd.
func longPath(t *testing.T) string {
	t.Helper()
	dir := filepath.Dir(testsock.Path(t))
	const name = "s.sock"
	sub := strings.Repeat("d", socketfile.MaxPathLen-len(dir)-2-len(name))
	require.Greater(t, len(sub), 0)
	require.NoError(t, os.Mkdir(filepath.Join(dir, sub), 0o700))
	path := filepath.Join(dir, sub, name)
	require.Len(t, path, socketfile.MaxPathLen)
	require.Greater(t, len(filepath.Join(filepath.Dir(path), ".sipc00000000", "s")), socketfile.MaxPathLen,
		"the private folder beside it would be too long")
	return path
}

// Without SocketMode, the file's mode is left to the umask, as in Node.
func TestSocketFileDefaultMode(t *testing.T) {
	leakcheck.Check(t)
	srv, _ := startServer(t, server.Options{})
	mask := syscall.Umask(0o022)
	syscall.Umask(mask)
	fi, err := os.Stat(srv.SocketFile())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o777&^mask), fi.Mode().Perm())
}
