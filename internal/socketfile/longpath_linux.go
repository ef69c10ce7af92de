package socketfile

import (
	"fmt"
	"os"
)

// bindLong binds in the private folder through a short name for it:
// /proc/self/fd/<n>/s, where n is a descriptor of the folder itself. The
// kernel resolves that name to the folder we created (even were it renamed
// meanwhile), so the socket is made there, given its mode, and linked into
// place as on the short route; the umask is never touched.
func bindLong(private, path string, mode os.FileMode) (*Listener, error) {
	dir, err := os.Open(private)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	short := fmt.Sprintf("/proc/self/fd/%d/s", dir.Fd())
	if _, err := os.Stat(fmt.Sprintf("/proc/self/fd/%d", dir.Fd())); err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrLongPathWithMode, err) // no /proc mounted
	}
	return bindInPrivate(short, path, mode)
}
