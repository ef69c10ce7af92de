//go:build !linux

package socketfile

import (
	"fmt"
	"os"
)

// bindLong has no safe route here: no short name for the private folder,
// and setting the umask for the bind would loosen the files other
// goroutines create meanwhile. The path must be shorter.
func bindLong(_, path string, _ os.FileMode) (*Listener, error) {
	return nil, fmt.Errorf("%w (%s)", ErrLongPathWithMode, path)
}
