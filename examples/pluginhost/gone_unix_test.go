//go:build unix

package main

import (
	"errors"
	"fmt"
	"syscall"
)

// processGone says why pid is not gone (exited and reaped), or nil.
func processGone(pid int) error {
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill(pid, 0) = %v, want ESRCH", err)
	}
	return nil
}
