package main

import (
	"fmt"
	"os"
)

// processGone says why pid is not gone, or nil: Windows cannot open a
// process that has exited and whose handles are all closed.
func processGone(pid int) error {
	if p, err := os.FindProcess(pid); err == nil {
		p.Release()
		return fmt.Errorf("process %d can still be opened", pid)
	}
	return nil
}
