package main

import (
	"os"
	"runtime/debug"
)

// An edge's live heap is a few megabytes, and at Go's default GOGC=100 the
// heap grows to twice that before a collection: a controller's RAM spent on
// garbage. BenchmarkFootprint measured about 3.5 MB less RSS at 50 than at
// 100, and 0.7 MB less again at 25 (20.4 and 20.6 MB against 21.2 and
// 21.3, alternated runs), for CPU per 10 s cycle of 148–168 ms against
// 140–155: a controller has less RAM to spare than CPU. A memory limit
// near the live heap (GOMEMLIMIT=7MiB) saved about 1.5 MB more but
// multiplied CPU by six. GOGC in the environment still wins.
func init() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(25)
	}
}
