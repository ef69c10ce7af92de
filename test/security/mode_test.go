//go:build unix

package security

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socketipc/socketipc/internal/socketfile"
	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The two ways Listen applies SocketMode: binding in a private folder beside
// the path then hard-linking the socket into place, or, when that folder's
// path would be too long for a socket, the same through a short name of the
// folder (/proc/self/fd/<n>); the umask is never changed.
var pathKinds = []struct {
	name string
	make func(t *testing.T, dir string) string
}{
	{"private folder", func(t *testing.T, dir string) string { return filepath.Join(dir, "s.sock") }},
	{"long path", longPath},
}

// longPath returns a socket path of the longest allowed length in a
// subfolder of dir (mode 0755, like dir), too long for the private folder
// beside it, so that Listen binds through /proc/self/fd.
func longPath(t *testing.T, dir string) string {
	t.Helper()
	const name = "s.sock"
	sub := filepath.Join(dir, strings.Repeat("d", socketfile.MaxPathLen-len(dir)-2-len(name)))
	require.NoError(t, os.Mkdir(sub, 0o755))
	require.NoError(t, os.Chmod(sub, 0o755)) // whatever the umask
	path := filepath.Join(sub, name)
	require.Len(t, path, socketfile.MaxPathLen)
	require.Greater(t, len(filepath.Join(sub, ".sipc00000000", "s")), socketfile.MaxPathLen,
		"the private folder beside it would be too long")
	return path
}

// requireOnlySocket checks that the socket's folder holds nothing else
// (no private folder left behind).
func requireOnlySocket(t *testing.T, path string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.Equal(t, []string{filepath.Base(path)}, names)
}

// SocketMode is exact whatever the umask of the process that listens: a
// strict one (077) does not narrow it and a loose one (000) does not widen
// it. Each server is a separate process that sets its umask first.
func TestSocketModeExactWhateverTheUmask(t *testing.T) {
	for _, kind := range pathKinds {
		for _, mode := range []os.FileMode{0o600, 0o660, 0o666} {
			for _, mask := range []string{"077", "000"} {
				t.Run(fmt.Sprintf("%s/%v/umask %s", kind.name, mode, mask), func(t *testing.T) {
					path := kind.make(t, sharedDir(t, -1))
					srv := startHelper(t, -1, "serve", path, "-mode", fmt.Sprintf("%o", mode), "-umask", mask)
					srv.listening(t)

					fi, err := os.Lstat(path)
					require.NoError(t, err)
					assert.Equal(t, os.ModeSocket, fi.Mode().Type())
					assert.Equal(t, mode, fi.Mode().Perm(), "socket mode")
					requireOnlySocket(t, path)
				})
			}
		}
	}
}

// The mode as another user sees it: uid 65534 (nobody, not in the
// socket's group) is refused by 0600 and 0660 and let in by 0666; 0660
// lets in the socket's group, which a setgid folder chooses (0640 does not:
// connecting needs write permission); a folder the user cannot traverse
// keeps it out whatever the socket's mode; and without SocketMode, under
// the usual umask 022, the file is 0755 and other users can't connect.
func TestSocketModeAsAnotherUser(t *testing.T) {
	needRoot(t)
	cases := []struct {
		mode   os.FileMode
		setgid bool        // the folder is setgid and of nobody's group
		folder os.FileMode // the socket folder's mode
		want   string      // the dial's outcome
	}{
		{0o600, false, 0o755, "EACCES"},
		{0o660, false, 0o755, "EACCES"},
		{0o666, false, 0o755, "dialed"},
		{0o660, true, 0o755, "dialed"},
		{0o640, true, 0o755, "EACCES"}, // connecting needs write permission
		{0o666, false, 0o700, "EACCES"},
		{0, false, 0o755, "EACCES"}, // no SocketMode: 0755 under umask 022, no write for others
	}
	withUmask(t, 0o022)
	for _, kind := range pathKinds {
		for _, c := range cases {
			name := fmt.Sprintf("%s/%s/folder %v", kind.name, modeName(c.mode), c.folder)
			if c.setgid {
				name += " setgid nobody"
			}
			t.Run(name, func(t *testing.T) {
				leakcheck.Check(t)
				top := sharedDir(t, -1)
				path := kind.make(t, top)
				dir := filepath.Dir(path)
				if c.setgid {
					require.NoError(t, os.Chown(dir, 0, nobody))
					require.NoError(t, os.Chmod(dir, 0o755|os.ModeSetgid))
				}
				srv, err := server.New(server.Options{SocketFile: path, SocketMode: c.mode})
				require.NoError(t, err)
				log := eventlog.Record(srv, "error")
				t.Cleanup(func() { require.NoError(t, srv.Close()) })
				require.NoError(t, srv.Listen())
				folder := c.folder
				if c.setgid {
					folder |= os.ModeSetgid
				}
				require.NoError(t, os.Chmod(dir, folder))

				fi, err := os.Lstat(path)
				require.NoError(t, err)
				want := c.mode
				if want == 0 {
					want = 0o755
				}
				require.Equal(t, want, fi.Mode().Perm())
				if c.setgid {
					require.Equal(t, uint32(nobody), fileGID(fi), "the socket took the setgid folder's group")
				}
				rs := runHelper(t, nobody, "dial", path)
				require.Len(t, rs, 1)
				got := rs[0].Event
				if got == "dialError" {
					got = rs[0].Errno
				}
				assert.Equal(t, c.want, got, "dial as uid %d: %v", nobody, rs[0])
				assert.Equal(t, uint32(nobody), rs[0].Self.UID)
				assert.Zero(t, log.Count("error"), "%v", log.All())
			})
		}
	}
}

// No window: a watcher that looks at the socket path as fast as it can
// while Listen runs never sees the file with another mode than the one
// asked for, even with the loosest umask (000), under which any file
// created on the way would be wide open. The only other thing that ever
// appears in the folder is the private folder, always 0700.
func TestSocketModeNoWindow(t *testing.T) {
	const runs = 200
	withUmask(t, 0)
	for _, kind := range pathKinds {
		for _, mode := range []os.FileMode{0o600, 0o660} {
			t.Run(fmt.Sprintf("%s/%v", kind.name, mode), func(t *testing.T) {
				leakcheck.Check(t)
				path := kind.make(t, sharedDir(t, -1))
				dir, base := filepath.Dir(path), filepath.Base(path)
				var sawPrivate int
				for i := range runs {
					srv, err := server.New(server.Options{SocketFile: path, SocketMode: mode})
					require.NoError(t, err)
					closeSrv := sync.OnceValue(srv.Close)
					t.Cleanup(func() { _ = closeSrv() }) // in case an assertion stops the test early
					var (
						stop    = make(chan struct{})
						seen    = make(chan struct{}) // the watcher saw the socket
						wg      sync.WaitGroup
						mu      sync.Mutex
						bad     []string
						private bool
					)
					wrong := func(format string, args ...any) {
						mu.Lock()
						bad = append(bad, fmt.Sprintf(format, args...))
						mu.Unlock()
					}
					wg.Add(2)
					go func() { // the final path, in a tight loop
						defer wg.Done()
						once := sync.OnceFunc(func() { close(seen) })
						for {
							select {
							case <-stop:
								return
							default:
							}
							fi, err := os.Lstat(path)
							if err != nil {
								continue
							}
							if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != mode {
								wrong("%s was %v", path, fi.Mode())
							}
							once()
						}
					}()
					go func() { // everything else in the folder
						defer wg.Done()
						for {
							select {
							case <-stop:
								return
							default:
							}
							entries, _ := os.ReadDir(dir)
							for _, e := range entries {
								if e.Name() == base {
									continue
								}
								fi, err := os.Lstat(filepath.Join(dir, e.Name()))
								if err != nil {
									continue // gone already
								}
								if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
									wrong("%s was %v", e.Name(), fi.Mode())
								} else {
									mu.Lock()
									private = true
									mu.Unlock()
								}
							}
						}
					}()
					err = srv.Listen()
					if err == nil {
						select {
						case <-seen:
						case <-time.After(eventlog.Timeout):
							err = fmt.Errorf("run %d: the watcher never saw the socket", i)
						}
					}
					close(stop)
					wg.Wait()
					require.NoError(t, closeSrv())
					require.NoError(t, err)
					require.Empty(t, bad, "run %d", i)
					if private {
						sawPrivate++
					}
				}
				t.Logf("%d runs; the private folder was caught %d times", runs, sawPrivate)
			})
		}
	}
}
