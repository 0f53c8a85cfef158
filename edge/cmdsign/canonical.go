package cmdsign

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/rackwatch/rackwatch/edge/command"
)

// Domain opens every signed message, so that a signature made for
// anything else, by a key used elsewhere, is never a command's.
const Domain = "rackwatch command signature v1"

// Canonical returns the bytes a command's signature covers: Domain, then
// one "name=value" line per field in a fixed order, each ended by LF. The
// signature's own key id, counter and validity are among them, as are the
// group and the edge node the command is addressed to, which are not part
// of the command's JSON: a command signed for one edge is forged on any
// other. Fields the kind does not use are left out, like in the JSON;
// values are rendered from the decoded command, not copied from its JSON,
// so the encoding does not depend on how the JSON was written. No value
// can hold an LF: command fields are validated, and group and edge node
// must have no control characters.
func Canonical(group, edge string, c command.Command) ([]byte, error) {
	for _, f := range [...]struct{ name, v string }{{"group", group}, {"edge", edge}} {
		if f.v == "" || strings.ContainsFunc(f.v, unicode.IsControl) || strings.ContainsAny(f.v, "/+#") {
			return nil, fmt.Errorf("cmdsign: %s %q: a Sparkplug id without control characters", f.name, f.v)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("cmdsign: %w", err)
	}
	if c.Sig.KeyID == "" {
		return nil, fmt.Errorf("cmdsign: command %s has no signature envelope", c.ID)
	}
	b := make([]byte, 0, 320)
	line := func(name, v string) {
		b = append(b, name...)
		b = append(b, '=')
		b = append(b, v...)
		b = append(b, '\n')
	}
	ms := func(name string, t interface{ UnixMilli() int64 }) { line(name, strconv.FormatInt(t.UnixMilli(), 10)) }
	b = append(b, Domain+"\n"...)
	line("key_id", c.Sig.KeyID)
	line("counter", strconv.FormatUint(c.Sig.Counter, 10))
	ms("issued", c.Issued)
	ms("valid_until", c.Sig.ValidUntil)
	line("group", group)
	line("edge", edge)
	line("id", c.ID)
	line("version", strconv.FormatUint(c.Version, 10))
	line("kind", string(c.Kind))
	line("device", c.Device)
	switch c.Kind {
	case command.KindFanDuty:
		line("channel", strconv.Itoa(c.Channel))
		line("duty", strconv.FormatFloat(c.Duty, 'g', -1, 64))
	case command.KindSensorEnable:
		line("enabled", strconv.FormatBool(c.Enabled))
	case command.KindPollPeriod:
		line("period", strconv.FormatInt(int64(c.Period), 10)) // nanoseconds
	case command.KindLBState:
		line("state", string(c.State))
		line("weight_percent", strconv.Itoa(c.WeightPercent))
	}
	if !c.Expires.IsZero() {
		ms("expires", c.Expires)
	}
	return b, nil
}
