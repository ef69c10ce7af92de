//go:build unix

package socketfile

import (
	"errors"
	"os"
	"syscall"
)

// ValidateMode accepts any SocketMode: Unix socket files have permission bits.
func ValidateMode(os.FileMode) error { return nil }

func isAddrInUse(err error) bool   { return errors.Is(err, syscall.EADDRINUSE) }
func isConnRefused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }
