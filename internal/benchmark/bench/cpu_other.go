//go:build !unix

package bench

import "time"

// CPUTime reports 0 where there is no getrusage (Windows): S7's CPU
// figures then show 0.
func CPUTime() time.Duration { return 0 }
