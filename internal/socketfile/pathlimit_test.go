package socketfile

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sunPathSizes is the table the build-tagged files choose from, by GOOS.
var sunPathSizes = map[string]int{
	"linux":     sunPathLinux,
	"android":   sunPathLinux,
	"darwin":    sunPathBSD,
	"ios":       sunPathBSD,
	"freebsd":   sunPathBSD,
	"openbsd":   sunPathBSD,
	"netbsd":    sunPathBSD,
	"dragonfly": sunPathBSD,
	"windows":   sunPathWindows,
}

// The constant this build chose is the one in the table for this GOOS, and
// the size of sun_path in Go's own sockaddr_un for this system.
func TestPathLimitMatchesThisSystem(t *testing.T) {
	if want, ok := sunPathSizes[runtime.GOOS]; ok {
		assert.Equal(t, want, sunPathSize, runtime.GOOS)
	}
	assert.Equal(t, len(syscall.RawSockaddrUnix{}.Path), sunPathSize)
	assert.Equal(t, sunPathSize-1, MaxPathLen)
}

// For every system's size: a path of size-1 bytes passes, one of size bytes
// (no room for the NUL) is refused, with an error naming the limit.
func TestPathLimitPerSystem(t *testing.T) {
	want := map[string]int{"linux": 107, "android": 107, "windows": 107,
		"darwin": 103, "ios": 103, "freebsd": 103, "openbsd": 103, "netbsd": 103, "dragonfly": 103}
	for goos, size := range sunPathSizes {
		limit := size - 1
		assert.Equal(t, want[goos], limit, goos)
		require.NoError(t, validate(strings.Repeat("a", limit), limit), goos)
		err := validate(strings.Repeat("a", limit+1), limit)
		require.ErrorIs(t, err, ErrInvalid, goos)
		assert.Contains(t, err.Error(), "over the "+strconv.Itoa(limit)+"-byte limit", goos)
	}
}

// The kernel (through Go's syscall package) really binds a path of
// MaxPathLen bytes, and refuses one byte more: the limit is exact.
func TestPathLimitIsTheKernels(t *testing.T) {
	dir, err := os.MkdirTemp("", "sl")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	if len(dir)+2 > MaxPathLen {
		t.Fatalf("temp dir %q too long to build a %d-byte path in", dir, MaxPathLen)
	}
	path := filepath.Join(dir, strings.Repeat("x", MaxPathLen-len(dir)-1))
	require.Len(t, path, MaxPathLen)
	l, err := net.Listen("unix", path)
	require.NoError(t, err)
	require.NoError(t, l.Close())

	_, err = net.Listen("unix", path+"x")
	require.Error(t, err)
	assert.True(t, errors.Is(err, syscall.EINVAL), "a %d-byte path: %v", MaxPathLen+1, err)
}
