// Package testsock gives tests short socket paths in fresh temporary
// folders (Unix socket paths are limited to about 100 bytes, and
// t.TempDir's paths can be longer).
package testsock

import (
	"os"
	"path/filepath"
	"testing"
)

// Path returns a socket path in a new temporary folder removed after the test.
func Path(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sipc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "s.sock")
}
