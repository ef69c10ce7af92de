// Package socketfile binds a server's socket file safely: it validates the
// path, reclaims a stale socket left by a crashed server (but never removes a
// path that is not a socket, or a socket a live server answers on), creates
// the file with the requested mode without a moment where it is more open,
// and on close removes the file only if it is still the one it created.
package socketfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"time"

	"github.com/socketipc/socketipc/internal/errtext"
)

// ErrInvalid is wrapped by every error about an unusable SocketFile option.
var ErrInvalid = errors.New("socketipc: invalid SocketFile")

var allDigits = regexp.MustCompile(`^\d+$`)

// Validate rejects what the Node package rejects (empty, all digits, which
// looks like a TCP port) and paths too long for a Unix socket on this system
// (MaxPathLen).
func Validate(path string) error { return validate(path, MaxPathLen) }

func validate(path string, maxLen int) error {
	switch {
	case path == "":
		return fmt.Errorf("%w: it is empty", ErrInvalid)
	case allDigits.MatchString(path):
		return fmt.Errorf("%w %q: it looks like a port; socketipc only uses Unix socket files", ErrInvalid, path)
	case len(path) > maxLen:
		return fmt.Errorf("%w %q: %d bytes, over the %d-byte limit of a Unix socket path on this system", ErrInvalid, path, len(path), maxLen)
	}
	return nil
}

// probeTimeout bounds the test connection made to a socket file in use.
const probeTimeout = time.Second

// Listener is a bound socket file.
type Listener struct {
	*net.UnixListener
	path string
	info os.FileInfo // the socket file as created, to recognise it on close
}

// Listen binds path. mode 0 leaves the file's mode to the umask; otherwise
// the file has exactly mode from the moment it appears at path.
//
// If path is in use: a path that is not a socket is never touched, and a
// socket where a server answers is left alone (the error wraps
// syscall.EADDRINUSE). A socket that refuses connections is stale: it is
// removed and the bind tried once more.
//
// Its errors are written to follow "socketipc: listen on <path>: ", which
// the caller adds: they say neither "socketipc:" nor the path (they may
// name other paths, such as the private folder of a SocketMode bind), and
// the errors of the net and os packages stay in their chains.
func Listen(path string, mode os.FileMode) (*Listener, error) {
	if err := ValidateMode(mode); err != nil {
		return nil, &listenError{errtext.Cause(err), err}
	}
	l, err := bind(path, mode)
	if err == nil || !isAddrInUse(err) {
		return l, withoutPath(err)
	}
	if reclaimErr := reclaimStale(path); reclaimErr != nil {
		return nil, reclaimErr
	}
	l, err = bind(path, mode)
	return l, withoutPath(err)
}

// listenError is an error of Listen with a text of its own (see Listen).
type listenError struct {
	text string
	err  error
}

func (e *listenError) Error() string { return e.text }
func (e *listenError) Unwrap() error { return e.err }

// withoutPath gives err, from binding, a text without the socket's path,
// which the net and os errors repeat ("listen unix <path>: bind: ...").
func withoutPath(err error) error {
	var (
		op   *net.OpError
		pe   *os.PathError
		link *os.LinkError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, new(*listenError)):
		return err
	case errors.As(err, &op) && op.Err != nil:
		return &listenError{op.Err.Error(), err}
	case errors.As(err, &link):
		return &listenError{link.Op + ": " + link.Err.Error(), err}
	case errors.As(err, &pe):
		return &listenError{pe.Op + ": " + pe.Err.Error(), err}
	}
	return err
}

// inUse is the error for a path in use, with why it was not reclaimed.
func inUse(path, why string) error {
	return &listenError{"address already in use" + why,
		&net.OpError{Op: "listen", Net: "unix", Addr: &net.UnixAddr{Name: path, Net: "unix"}, Err: syscall.EADDRINUSE}}
}

func reclaimStale(path string) error {
	before, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // gone meanwhile: just bind again
		}
		return inUse(path, ", and it cannot be inspected: "+withoutPath(err).Error())
	}
	if before.Mode().Type() != os.ModeSocket {
		return inUse(path, fmt.Sprintf(": it is not a socket (%s); refusing to remove it", describe(before.Mode())))
	}
	probe, err := net.DialTimeout("unix", path, probeTimeout)
	if err == nil {
		probe.Close()
		return inUse(path, ": a server is listening on it")
	}
	if !isConnRefused(err) {
		return inUse(path, ": cannot tell whether it is stale: "+withoutPath(err).Error())
	}
	// Stale. Remove it only if it is still the very file we probed. A check
	// then an unlink would leave a moment in which a file renamed over the
	// path is the one unlinked; so move whatever is there aside (rename is
	// atomic), look at what was moved, and delete it only if it is the socket
	// we probed; anything else is put back.
	aside := filepath.Join(filepath.Dir(path), ".sipc-stale-"+randomSuffix())
	if err := os.Rename(path, aside); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // gone meanwhile: just bind again
		}
		return inUse(path, ": the stale socket cannot be removed: "+withoutPath(err).Error())
	}
	moved, err := os.Lstat(aside)
	if err == nil && os.SameFile(before, moved) {
		if err := os.Remove(aside); err != nil && !errors.Is(err, os.ErrNotExist) {
			return inUse(path, fmt.Sprintf(": the stale socket, moved to %s, cannot be removed: %v", aside, withoutPath(err)))
		}
		return nil
	}
	if err := putBack(aside, path); err != nil {
		return inUse(path, fmt.Sprintf(": it changed while it was checked, and what replaced it is now at %s: %v", aside, withoutPath(err)))
	}
	return inUse(path, ": it changed while it was checked")
}

// putBack moves a file that reclaimStale moved aside by mistake back to
// path, never over something that has appeared there since.
func putBack(aside, path string) error {
	err := os.Link(aside, path) // link(2) never replaces; it keeps the inode
	if err == nil {
		return os.Remove(aside)
	}
	if errors.Is(err, os.ErrExist) {
		return err
	}
	// Directories can't be linked: rename, if the path is still free.
	if _, statErr := os.Lstat(path); !errors.Is(statErr, os.ErrNotExist) {
		return err
	}
	return os.Rename(aside, path)
}

func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func describe(m os.FileMode) string {
	switch t := m.Type(); {
	case t == 0:
		return "a regular file"
	case t&os.ModeDir != 0:
		return "a directory"
	case t&os.ModeSymlink != 0:
		return "a symbolic link, which is never followed"
	case t&os.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case t&os.ModeDevice != 0:
		return "a device file"
	default:
		return "mode " + m.String()
	}
}

func bind(path string, mode os.FileMode) (*Listener, error) {
	if mode == 0 {
		return bindAt(path)
	}
	return bindWithMode(path, mode)
}

func bindAt(path string) (*Listener, error) {
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	ul.SetUnlinkOnClose(false)
	info, err := os.Lstat(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		ul.Close()
		return nil, err
	}
	if err != nil || info.Mode().Type() != os.ModeSocket {
		// Something took the path the instant after bind: not ours, and
		// Close must not remove it.
		info = nil
	}
	return &Listener{UnixListener: ul, path: path, info: info}, nil
}

// bindWithMode binds inside a private (0700) folder next to path, sets the
// mode there, and then hard-links the socket into place. link(2) never
// replaces an existing file, so a live server's socket is as safe as with a
// plain bind, and nobody can reach the socket before it has its mode.
//
// The process umask is never changed: it is process-wide, and any file
// another goroutine created in that instant would get the socket's mode
// (0666 instead of 0644 under the usual umask). When the private folder's
// path is too long for a socket address, the socket is bound through a
// short name for that folder (see bindLong); where there is none, Listen
// fails with ErrLongPathWithMode.
func bindWithMode(path string, mode os.FileMode) (*Listener, error) {
	dir := filepath.Dir(path)
	private := filepath.Join(dir, ".sipc"+randomSuffix())
	tmp := filepath.Join(private, "s")
	if err := os.Mkdir(private, 0o700); err != nil {
		return nil, err
	}
	defer os.RemoveAll(private)
	if len(tmp) <= MaxPathLen {
		return bindInPrivate(tmp, path, mode)
	}
	return bindLong(private, path, mode)
}

// ErrLongPathWithMode: SocketMode was set, the path is too long to bind in a
// private folder beside it, and this system offers no short name for that
// folder (Linux's /proc/self/fd).
// Its text has no "socketipc:": it is only seen wrapped by Listen's caller.
var ErrLongPathWithMode = errors.New("SocketMode cannot be applied safely to a path this long here; use a shorter path")

// bindInPrivate binds at tmp, a name of the socket inside the private
// folder, gives it mode there, then hard-links it to path.
func bindInPrivate(tmp, path string, mode os.FileMode) (*Listener, error) {
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, err
	}
	ul.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, mode); err != nil {
		ul.Close()
		return nil, err
	}
	// Recorded here, in the private folder, where nobody can swap it: the
	// link below is the same file.
	info, err := os.Lstat(tmp)
	if err != nil {
		ul.Close()
		return nil, err
	}
	if err := os.Link(tmp, path); err != nil {
		ul.Close()
		if errors.Is(err, os.ErrExist) {
			return nil, &net.OpError{Op: "listen", Net: "unix", Addr: &net.UnixAddr{Name: path, Net: "unix"}, Err: syscall.EADDRINUSE}
		}
		return nil, err
	}
	return &Listener{UnixListener: ul, path: path, info: info}, nil
}

// Path is the socket file's path.
func (l *Listener) Path() string { return l.path }

// Close stops listening and removes the socket file if it is still the one
// this listener created (another server may have taken the path since).
func (l *Listener) Close() error {
	err := l.UnixListener.Close()
	if l.info == nil {
		return err
	}
	if now, statErr := os.Lstat(l.path); statErr == nil && os.SameFile(l.info, now) {
		if rmErr := os.Remove(l.path); rmErr != nil && err == nil && !errors.Is(rmErr, os.ErrNotExist) {
			err = rmErr
		}
	}
	return err
}
