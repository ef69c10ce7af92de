//go:build unix

package main

import (
	"runtime"
	"syscall"
	"time"
)

// usage is a finished peer's peak RSS in bytes and its CPU time (user and
// system). getrusage's ru_maxrss is in bytes on darwin and in KiB elsewhere;
// its type is int32 on some 32-bit systems, so it is widened first.
func usage(p *proc) (rss int64, cpu time.Duration) {
	ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, 0
	}
	rss = int64(ru.Maxrss)
	if runtime.GOOS != "darwin" && runtime.GOOS != "ios" {
		rss *= 1024
	}
	return rss, time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
