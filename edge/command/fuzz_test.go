package command

import (
	"reflect"
	"testing"
)

// FuzzParse feeds arbitrary bytes to both decoders: as a Sparkplug payload
// and as the JSON of a command. Neither may panic, every refusal must carry
// a reason, and a command that decodes must survive the collector's
// encoding unchanged.
func FuzzParse(f *testing.F) {
	f.Add([]byte(fanJSON))
	f.Add([]byte(drainJSON))
	f.Add(payload(f, metric(MetricName, 12, fanJSON)))
	f.Fuzz(func(t *testing.T, b []byte) {
		cmds, err := Parse(b)
		for _, e := range unjoin(err) {
			if ReasonOf(e) == "" {
				t.Fatalf("Parse refusal without a reason: %v", e)
			}
		}
		for _, c := range cmds {
			if err := c.Validate(); err != nil {
				t.Fatalf("Parse returned an invalid command %+v: %v", c, err)
			}
		}
		c, err := ParseJSON(b)
		if err != nil {
			if ReasonOf(err) == "" {
				t.Fatalf("ParseJSON refusal without a reason: %v", err)
			}
			return
		}
		enc, err := c.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON(%+v): %v", c, err)
		}
		again, err := ParseJSON(enc)
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", enc, again, err, c)
		}
	})
}
