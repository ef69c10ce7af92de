//go:build !linux

package socketfile

import "os"

// bindLong has no safe route here: no short name for the private folder,
// and setting the umask for the bind would loosen the files other
// goroutines create meanwhile. The path must be shorter.
func bindLong(string, string, os.FileMode) (*Listener, error) {
	return nil, ErrLongPathWithMode
}
