//go:build unix

package bench

import (
	"syscall"
	"time"
)

// CPUTime is the user + system CPU time this process has used so far
// (getrusage of itself). S7's server reads it at its first and its last
// receipt, so that starting up and accepting the connections are not counted.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		Failf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
