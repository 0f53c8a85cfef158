package correlate

import (
	"strings"

	"github.com/rackwatch/rackwatch/collector/decide"
)

// Status maps HAProxy's status column to the engine's states. "UP 1/3"
// and "DOWN 1/2" are transitions that still count as their first word; a
// server without health checks reads "no check" and is in service.
func Status(s string) decide.Status {
	word, _, _ := strings.Cut(s, " ")
	switch word {
	case "UP", "no":
		return decide.StatusUp
	case "DOWN", "NOLB":
		return decide.StatusDown
	case "DRAIN":
		return decide.StatusDrain
	case "MAINT":
		return decide.StatusMaint
	}
	return decide.StatusUnknown
}
