//go:build unix

package service

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time the process has used, user and system, on every
// core: samples per CPU-second is the throughput per core whatever
// GOMAXPROCS is, garbage collection included.
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
