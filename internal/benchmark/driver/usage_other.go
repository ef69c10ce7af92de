//go:build !unix

package main

import "time"

// usage reports nothing where there is no getrusage (Windows): the driver's
// tables then show 0 for peak RSS and CPU time.
func usage(*proc) (rss int64, cpu time.Duration) { return 0, 0 }
