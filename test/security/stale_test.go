//go:build unix

package security

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// makeStale leaves a socket file at path that nobody listens on, as a
// crashed server would.
func makeStale(t *testing.T, path string) {
	t.Helper()
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	require.NoError(t, err)
	ul.SetUnlinkOnClose(false)
	require.NoError(t, ul.Close())
	_, err = net.Dial("unix", path)
	require.ErrorIs(t, err, syscall.ECONNREFUSED, "the socket is stale")
}

// dirNames lists a folder.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// requireServed checks that a Go client reaches the helper server at path
// and gets its welcome.
func requireServed(t *testing.T, path string) {
	t.Helper()
	cli, err := client.New(client.Options{SocketFile: path})
	require.NoError(t, err)
	log := eventlog.Record(cli, "message.welcome")
	t.Cleanup(func() { _ = cli.Close() })
	require.NoError(t, cli.Connect())
	assert.Equal(t, self(), asCred(t, log.Wait(t, "message.welcome").Arg(0)))
	require.NoError(t, cli.Close())
}

// What the stale-file logic finds at the path and must leave alone, beyond
// what server TestSocketFileNotASocketIsKept and TestSocketFileLiveServerIsKept
// cover (a regular file, an empty file, a directory with contents, symlinks
// to a file, to nowhere and to a stale socket, an in-process live server):
// a named pipe, a device file, a symlink to a live socket (never followed:
// the link and the server behind it stay), and a live server in another
// process, which goes on serving. Listen fails with an error wrapping
// syscall.EADDRINUSE that says why, and neither it nor Close removes
// anything, with or without SocketMode.
func TestStaleLogicLeavesAlone(t *testing.T) {
	type setup func(t *testing.T, path string) (why string, check func(t *testing.T))
	cases := []struct {
		name  string
		setup setup
	}{
		{"named pipe", func(t *testing.T, path string) (string, func(t *testing.T)) {
			require.NoError(t, syscall.Mkfifo(path, 0o644))
			return "is not a socket (a named pipe (FIFO)); refusing to remove it", func(t *testing.T) {
				fi, err := os.Lstat(path)
				require.NoError(t, err)
				assert.Equal(t, os.ModeNamedPipe, fi.Mode().Type())
			}
		}},
		{"device file", func(t *testing.T, path string) (string, func(t *testing.T)) {
			// /dev/null's numbers: major 1, minor 3.
			if err := syscall.Mknod(path, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
				t.Skipf("cannot make a device file here: %v", err)
			}
			return "is not a socket (a device file); refusing to remove it", func(t *testing.T) {
				fi, err := os.Lstat(path)
				require.NoError(t, err)
				assert.Equal(t, os.ModeDevice|os.ModeCharDevice, fi.Mode().Type())
			}
		}},
		{"symlink to a live socket", func(t *testing.T, path string) (string, func(t *testing.T)) {
			target := path + ".live"
			helper := startHelper(t, -1, "serve", target)
			helper.listening(t)
			require.NoError(t, os.Symlink(target, path))
			before, err := os.Lstat(target)
			require.NoError(t, err)
			return "is not a socket (a symbolic link, which is never followed); refusing to remove it", func(t *testing.T) {
				link, err := os.Readlink(path)
				require.NoError(t, err)
				assert.Equal(t, target, link)
				after, err := os.Lstat(target)
				require.NoError(t, err)
				assert.True(t, os.SameFile(before, after), "the link's target is the same socket")
				requireServed(t, path) // through the link, as any client would
				requireServed(t, target)
			}
		}},
		{"live server in another process", func(t *testing.T, path string) (string, func(t *testing.T)) {
			helper := startHelper(t, -1, "serve", path)
			helper.listening(t)
			before, err := os.Lstat(path)
			require.NoError(t, err)
			return "address already in use: a server is listening on it", func(t *testing.T) {
				after, err := os.Lstat(path)
				require.NoError(t, err)
				assert.True(t, os.SameFile(before, after), "the live server's socket file is the same")
				requireServed(t, path)
				assert.Empty(t, helper.reports("listenError"))
			}
		}},
	}
	for _, c := range cases {
		for _, mode := range []os.FileMode{0, 0o600} {
			t.Run(c.name+"/"+modeName(mode), func(t *testing.T) {
				leakcheck.Check(t)
				dir := sharedDir(t, -1)
				path := filepath.Join(dir, "s.sock")
				why, check := c.setup(t, path)
				names := dirNames(t, dir)

				srv, err := server.New(server.Options{SocketFile: path, SocketMode: mode})
				require.NoError(t, err)
				t.Cleanup(func() { _ = srv.Close() }) // in case an assertion stops the test early
				log := eventlog.Record(srv, "error", "listening")
				err = srv.Listen()
				require.Error(t, err)
				assert.ErrorIs(t, err, syscall.EADDRINUSE)
				assert.Contains(t, err.Error(), why)
				assert.Equal(t, 1, strings.Count(err.Error(), path), "the path once: %v", err)
				assert.Equal(t, 1, strings.Count(err.Error(), "socketipc:"), "socketipc: once: %v", err)
				log.Wait(t, "error")
				check(t)
				require.NoError(t, srv.Close())
				check(t)
				assert.Equal(t, names, dirNames(t, dir), "nothing added or removed in the folder")
				assert.Zero(t, log.Count("listening"))
			})
		}
	}
}

// A socket that can't be probed, or can't be removed, is left alone too. As
// the user nobody: a stale socket of root's with mode 0600 can't be
// connected to (EACCES), so nobody can tell it is stale (even though
// nobody owns the folder and could remove it); one in a sticky folder (as
// /tmp is) is stale but not nobody's to remove (EPERM).
func TestStaleSocketOfAnotherUser(t *testing.T) {
	needRoot(t)
	cases := []struct {
		name   string
		folder func(t *testing.T) string
		mode   os.FileMode // of the stale socket
		why    string
	}{
		{"unreachable", func(t *testing.T) string { return sharedDir(t, nobody) }, 0o600,
			"address already in use: cannot tell whether it is stale: connect: permission denied"},
		{"sticky folder", func(t *testing.T) string {
			dir := sharedDir(t, -1)
			require.NoError(t, os.Chmod(dir, 0o777|os.ModeSticky))
			return dir
		}, 0o666, "address already in use: the stale socket cannot be removed: rename: operation not permitted"},
	}
	for _, c := range cases {
		for _, mode := range []string{"0", "600"} {
			t.Run(c.name+"/"+mode, func(t *testing.T) {
				dir := c.folder(t)
				path := filepath.Join(dir, "s.sock")
				makeStale(t, path)
				require.NoError(t, os.Chmod(path, c.mode))
				before, err := os.Lstat(path)
				require.NoError(t, err)

				helper := startHelper(t, nobody, "serve", path, "-mode", mode)
				r := helper.wait(t, "listenError")
				assert.Empty(t, helper.reports("listening"))
				assert.Equal(t, "EADDRINUSE", r.Errno, "%v", r)
				assert.Contains(t, r.Err, c.why)
				assert.Equal(t, 1, strings.Count(r.Err, path), "the path once: %v", r.Err)
				after, err := os.Lstat(path)
				require.NoError(t, err)
				assert.True(t, os.SameFile(before, after), "the stale socket is still there")
				assert.Equal(t, fileUID(before), fileUID(after))
				assert.Equal(t, []string{"s.sock"}, dirNames(t, dir))
			})
		}
	}
}

// A server whose socket file was removed by hand, the path then taken by
// something else, leaves that alone on Close: another server (in another
// process, which goes on serving) or a regular file. With nothing at the
// path, Close just succeeds. (Server TestSocketFileCloseKeepsAnotherServersFile
// covers an in-process newcomer without SocketMode.)
func TestCloseLeavesReplacement(t *testing.T) {
	cases := []struct {
		name    string
		replace func(t *testing.T, path string) func(t *testing.T)
	}{
		{"another server", func(t *testing.T, path string) func(t *testing.T) {
			helper := startHelper(t, -1, "serve", path, "-mode", "600")
			helper.listening(t)
			before, err := os.Lstat(path)
			require.NoError(t, err)
			return func(t *testing.T) {
				after, err := os.Lstat(path)
				require.NoError(t, err, "our Close removed the newcomer's socket file")
				assert.True(t, os.SameFile(before, after))
				requireServed(t, path)
			}
		}},
		{"regular file", func(t *testing.T, path string) func(t *testing.T) {
			require.NoError(t, os.WriteFile(path, []byte("precious"), 0o644))
			return func(t *testing.T) {
				b, err := os.ReadFile(path)
				require.NoError(t, err)
				assert.Equal(t, "precious", string(b))
			}
		}},
		{"nothing", func(t *testing.T, path string) func(t *testing.T) {
			return func(t *testing.T) {
				_, err := os.Lstat(path)
				assert.True(t, errors.Is(err, os.ErrNotExist))
			}
		}},
	}
	for _, c := range cases {
		for _, mode := range []os.FileMode{0, 0o600} {
			t.Run(c.name+"/"+modeName(mode), func(t *testing.T) {
				leakcheck.Check(t)
				path := filepath.Join(sharedDir(t, -1), "s.sock")
				srv, err := server.New(server.Options{SocketFile: path, SocketMode: mode})
				require.NoError(t, err)
				t.Cleanup(func() { _ = srv.Close() }) // in case an assertion stops the test early
				log := eventlog.Record(srv, "error")
				require.NoError(t, srv.Listen())
				require.NoError(t, os.Remove(path)) // by hand
				check := c.replace(t, path)
				require.NoError(t, srv.Close())
				check(t)
				assert.Zero(t, log.Count("error"), "%v", log.All())
			})
		}
	}
}

// The reclaim races a file being renamed over the stale socket, at many
// different moments during Listen, and never costs that file: whether the
// rename lands before the probe, between the probe and the removal, or
// after the bind, the file is at the path afterwards, intact, and Close
// leaves it there. (Listen moves the stale socket aside atomically and
// deletes it only if what it moved is the socket it probed; it records its
// own socket file where nobody can swap it, or not at all.)
func TestReclaimRaceNeverCostsAFile(t *testing.T) {
	for _, mode := range []os.FileMode{0, 0o600} {
		t.Run(modeName(mode), func(t *testing.T) {
			leakcheck.Check(t)
			dir := sharedDir(t, -1)
			path := filepath.Join(dir, "s.sock")
			file := filepath.Join(dir, "precious")
			listen := func() (*server.Server, error) {
				srv, err := server.New(server.Options{SocketFile: path, SocketMode: mode})
				require.NoError(t, err)
				t.Cleanup(func() { _ = srv.Close() })
				srv.On("error", func(error) {})
				return srv, srv.Listen()
			}
			// How long a Listen that reclaims a stale socket takes here.
			var took []time.Duration
			for range 9 {
				_ = os.Remove(path)
				makeStale(t, path)
				start := time.Now()
				srv, err := listen()
				took = append(took, time.Since(start))
				require.NoError(t, err)
				require.NoError(t, srv.Close())
			}
			slices.Sort(took)
			span := 2 * took[len(took)/2]

			const runs = 300
			outcomes := map[string]int{}
			for i := range runs {
				_ = os.Remove(path)
				makeStale(t, path)
				require.NoError(t, os.WriteFile(file, []byte("precious"), 0o644))
				// The rename lands from 0 to twice a Listen's time after it starts.
				delay := span * time.Duration(i%50) / 50
				ready, start := make(chan struct{}), make(chan struct{})
				renamed := make(chan error, 1)
				go func() {
					close(ready)
					<-start
					for begin := time.Now(); time.Since(begin) < delay; {
						// a busy wait: a timer is too coarse
					}
					renamed <- os.Rename(file, path)
				}()
				<-ready
				close(start)
				srv, listenErr := listen()
				require.NoError(t, <-renamed)
				require.NoError(t, srv.Close())

				b, err := os.ReadFile(path)
				require.NoError(t, err, "run %d: the file was removed (Listen: %v)", i, listenErr)
				require.Equal(t, "precious", string(b), "run %d", i)
				switch {
				case listenErr == nil:
					outcomes["after the bind"]++
				case strings.Contains(listenErr.Error(), "changed while it was checked"):
					outcomes["between the probe and the removal"]++
				case strings.Contains(listenErr.Error(), "not a socket"):
					outcomes["before the probe"]++
				default:
					require.ErrorIs(t, listenErr, syscall.EADDRINUSE)
					outcomes["between the removal and the bind"]++
				}
				assert.Equal(t, []string{"s.sock"}, dirNames(t, dir), "run %d: nothing left aside", i)
			}
			t.Logf("%d runs over %v; where the rename landed: %v", runs, span, outcomes)
		})
	}
}
