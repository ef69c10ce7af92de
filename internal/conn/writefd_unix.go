//go:build !windows

package conn

import "syscall"

// writeFD makes one non-blocking write(2) on a socket descriptor.
func writeFD(fd uintptr, b []byte) (int, error) { return syscall.Write(int(fd), b) }
