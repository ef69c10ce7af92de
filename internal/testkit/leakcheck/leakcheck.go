// Package leakcheck lets a test assert that the library left no goroutine
// and no file descriptor behind once everything it opened was closed.
package leakcheck

import (
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// libraryFrames mark a goroutine as the library's: one of its functions is on the stack.
var libraryFrames = []string{
	"github.com/socketipc/socketipc/internal/conn.",
	"github.com/socketipc/socketipc/internal/loop.",
	"github.com/socketipc/socketipc/server.",
	"github.com/socketipc/socketipc/client.",
}

const settle = 5 * time.Second

// Check records the open descriptors now, and at the end of the test (after
// cleanups registered later, such as Close) fails it if a library goroutine
// is still running or more descriptors are open. Call it first in a test.
func Check(t testing.TB) {
	t.Helper()
	initPoller.Do(startPoller)
	fds := openFDs()
	t.Cleanup(func() {
		deadline := time.Now().Add(settle)
		for {
			stacks := LibraryGoroutines()
			now := openFDs()
			if len(stacks) == 0 && now <= fds {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("leak: %d library goroutine(s), %d descriptors open (%d before):\n%s",
					len(stacks), now, fds, strings.Join(stacks, "\n\n"))
				return
			}
			time.Sleep(10 * time.Millisecond) // polling for an end state, not waiting for one to happen
		}
	})
}

// LibraryGoroutines returns the stacks of the goroutines running library code.
func LibraryGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var found []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "leakcheck.LibraryGoroutines") {
			continue
		}
		for _, frame := range libraryFrames {
			if strings.Contains(g, frame) {
				found = append(found, g)
				break
			}
		}
	}
	return found
}

var initPoller sync.Once

// startPoller makes the runtime open its network poller's descriptors (an
// epoll instance and an eventfd, kept for the life of the process) now, so
// that the first test of a process to use a socket is not blamed for them.
// Under "go test" a piped stdout usually does this already; a test binary
// run by hand with its output in a file does not.
func startPoller() {
	r, w, err := os.Pipe()
	if err == nil {
		r.Close()
		w.Close()
	}
}

// OpenFDs is the number of descriptors this process has open (see the
// per-OS files for how it is counted), or 0 on a system where they are not
// counted (Windows): there only goroutines are checked.
func OpenFDs() int { return openFDs() }
