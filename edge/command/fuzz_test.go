package command

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/rackwatch/rackwatch/edge/sparkplug"
	pb "github.com/rackwatch/rackwatch/edge/sparkplug/sparkplugpb"
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

// verifyRecorder stands in for the Verifier of package edge/cmdsign, which
// imports this package and has its own fuzz target: it records what it is
// asked and refuses commands with an odd counter, so both of its answers
// are exercised.
type verifyRecorder struct{ seen []Command }

func (v *verifyRecorder) Verify(c Command) error {
	v.seen = append(v.seen, c)
	if c.Sig.Counter%2 == 1 {
		return refusef(ReasonForged, "odd counter")
	}
	return nil
}

// FuzzHandleMessage feeds one command message, topic and payload, through
// the Manager as the edge receives it. Besides not panicking: every
// refusal carries a reason, the Verifier sees only commands that validate
// and that the topic may carry, nothing is applied without it, and the
// counters account for every result.
func FuzzHandleMessage(f *testing.F) {
	ncmd := sparkplug.NodeTopic("site1", sparkplug.NCMD, "rack1")
	for _, j := range []string{fanJSON, drainJSON} {
		f.Add(ncmd.String(), payload(f, metric(MetricName, pb.DataType_String, j)))
	}
	f.Add(sparkplug.DeviceTopic("site1", sparkplug.DCMD, "rack1", "lb").String(), payload(f, metric(MetricName, pb.DataType_String, drainJSON)))
	f.Add(sparkplug.DeviceTopic("site1", sparkplug.DCMD, "rack1", "fans").String(), payload(f, metric(MetricName, pb.DataType_String, drainJSON)))
	f.Add(ncmd.String(), payload(f, metric(MetricName, pb.DataType_String, fanJSON), metric(MetricName, pb.DataType_String, fanJSON)))
	f.Add(ncmd.String(), payload(f, metric(sparkplug.MetricRebirth, pb.DataType_Boolean, true)))
	f.Fuzz(func(t *testing.T, topic string, b []byte) {
		tp, err := sparkplug.ParseTopic(topic)
		if err != nil {
			return // the edge subscribes to its own command topics only
		}
		v := &verifyRecorder{}
		s := newSettings(nil)
		m := newManager(t, Opts{
			Appliers: map[Kind]Applier{KindFanDuty: s, KindSensorEnable: s, KindPollPeriod: s, KindLBState: s},
			Verifier: v,
			Now:      newClock().Now,
		})
		results := m.HandleMessage(context.Background(), tp, b)
		for _, c := range v.seen {
			if err := c.Validate(); err != nil {
				t.Fatalf("the Verifier was asked about an invalid command %+v: %v", c, err)
			}
			if tp.Type == sparkplug.DCMD && c.Device != tp.Device {
				t.Fatalf("the Verifier was asked about a command for %q in a DCMD for %q", c.Device, tp.Device)
			}
		}
		applied := 0
		for _, r := range results {
			if r.Outcome < Applied || r.Outcome > Failed {
				t.Fatalf("result %+v: no outcome", r)
			}
			if r.Outcome == Refused && r.Reason == "" {
				t.Fatalf("result %+v: refused without a reason", r)
			}
			if r.Outcome == Applied {
				applied++
				if !slices.ContainsFunc(v.seen, func(c Command) bool { return c.ID == r.ID && c.Sig.Counter%2 == 0 }) {
					t.Fatalf("command %s applied without the Verifier's consent", r.ID)
				}
			}
		}
		c := m.Counters()
		sum := c.Applied + c.Duplicate + c.Stale + c.Expired + c.Failed
		for _, n := range c.Refused {
			sum += n
		}
		if sum != uint64(len(results)) || c.Applied != uint64(applied) {
			t.Fatalf("counters %+v for %d results, %d applied", c, len(results), applied)
		}
	})
}
