//go:build !linux

package edgenode

// SystemClockSynced assumes the clock synchronised: only Linux exposes the
// kernel's synchronisation state (adjtimex(2)).
func SystemClockSynced() bool { return true }
