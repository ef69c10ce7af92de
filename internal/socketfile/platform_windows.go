package socketfile

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/windows"
)

// ValidateMode refuses a SocketMode: an AF_UNIX socket file on Windows is
// guarded by the ACL of its folder, not by Unix permission bits, and
// socketipc does not pretend to set them.
func ValidateMode(mode os.FileMode) error {
	if mode != 0 {
		return fmt.Errorf("%w: SocketMode %#o: Windows has no permission bits on socket files, so SocketMode must be 0: %w",
			ErrInvalid, uint32(mode), errors.ErrUnsupported)
	}
	return nil
}

// Winsock reports its own error numbers, not the invented syscall.E* ones.
func isAddrInUse(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, windows.WSAEADDRINUSE)
}

func isConnRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, windows.WSAECONNREFUSED)
}
