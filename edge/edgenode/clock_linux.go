package edgenode

import "syscall"

// Kernel clock discipline state, from adjtimex(2) (include/uapi/linux/timex.h).
const (
	timeError = 5    // TIME_ERROR: the clock is not synchronised
	staUnsync = 0x40 // STA_UNSYNC: set until a synchronisation daemon clears it
)

// SystemClockSynced reports whether the kernel considers the system clock
// synchronised: adjtimex(2), read-only, neither returns TIME_ERROR nor has
// STA_UNSYNC in its status. NTP daemons (ntpd, chrony, systemd-timesyncd)
// clear STA_UNSYNC once they have set the clock, and the kernel sets it
// again when the estimated error grows past 16 s without an update. If the
// call fails the clock is assumed synchronised, as on systems without it.
func SystemClockSynced() bool {
	var tx syscall.Timex // Modes 0: read the state, change nothing
	state, err := syscall.Adjtimex(&tx)
	if err != nil {
		return true
	}
	return state != timeError && tx.Status&staUnsync == 0
}
