package traps

import (
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/edge/sample"
)

func TestSamples(t *testing.T) {
	at := testStart
	yes, no := true, false
	names := func(device string, ifIndex int) (string, bool) {
		if device == "tor1" && ifIndex == 3 {
			return "swp3", true
		}
		return "", false
	}
	counter := func(name string, n uint64) sample.Sample {
		return sample.Sample{Metric: "snmp_traps_total", Labels: sample.L("trap", name), Value: sample.Uint(n), Unit: "notifications", TS: at}
	}
	operUp := func(up bool) sample.Sample {
		return sample.Sample{Metric: "if_oper_up", Labels: sample.L("ifname", "swp3"), Value: sample.Bool(up), Unit: "bool", TS: at}
	}
	base := Event{At: at, Device: "tor1", IfIndex: 3}
	tests := []struct {
		name   string
		ev     func(Event) Event
		lookup func(string, int) (string, bool)
		want   []sample.Sample
	}{
		{"linkDown with ifOperStatus down", func(e Event) Event {
			e.TrapOID, e.Name, e.Count, e.OperUp = OIDLinkDown, NameLinkDown, 4, &no
			return e
		}, names, []sample.Sample{counter("linkDown", 4), operUp(false)}},
		{"linkUp with ifOperStatus up", func(e Event) Event {
			e.TrapOID, e.Name, e.Count, e.OperUp = OIDLinkUp, NameLinkUp, 1, &yes
			return e
		}, names, []sample.Sample{counter("linkUp", 1), operUp(true)}},
		{"linkDown without ifOperStatus is down", func(e Event) Event {
			e.TrapOID, e.Name, e.Count = OIDLinkDown, NameLinkDown, 2
			return e
		}, names, []sample.Sample{counter("linkDown", 2), operUp(false)}},
		{"linkUp without ifOperStatus says nothing of the state", func(e Event) Event {
			e.TrapOID, e.Name, e.Count = OIDLinkUp, NameLinkUp, 2
			return e
		}, names, []sample.Sample{counter("linkUp", 2)}},
		{"interface the poller does not know", func(e Event) Event {
			e.TrapOID, e.Name, e.Count, e.OperUp, e.IfIndex = OIDLinkDown, NameLinkDown, 1, &no, 9
			return e
		}, names, []sample.Sample{counter("linkDown", 1)}},
		{"no lookup", func(e Event) Event {
			e.TrapOID, e.Name, e.Count, e.OperUp = OIDLinkDown, NameLinkDown, 1, &no
			return e
		}, nil, []sample.Sample{counter("linkDown", 1)}},
		{"configured notification about an interface", func(e Event) Event {
			e.TrapOID, e.Name, e.Count, e.OperUp = "1.3.6.1.4.1.9.9.276.0.1", "cieLinkDown", 7, &no
			return e
		}, names, []sample.Sample{counter("cieLinkDown", 7), operUp(false)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.ev(base).Samples(tc.lookup)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i].Series() != tc.want[i].Series() || got[i].Value != tc.want[i].Value ||
					got[i].Unit != tc.want[i].Unit || !got[i].TS.Equal(tc.want[i].TS) {
					t.Errorf("sample %d: got %v %v %s %v, want %v %v %s %v", i, got[i].Series(), got[i].Value, got[i].Unit, got[i].TS,
						tc.want[i].Series(), tc.want[i].Value, tc.want[i].Unit, tc.want[i].TS)
				}
			}
		})
	}
}

// The operational-state sample is the very series the poller publishes,
// so a trap and a poll update the same metric.
func TestSamplesMatchCatalogue(t *testing.T) {
	no := false
	for _, s := range (Event{At: time.Now(), TrapOID: OIDLinkDown, Name: NameLinkDown, IfIndex: 1, OperUp: &no}).Samples(
		func(string, int) (string, bool) { return "eth0", true }) {
		if s.Metric == MetricTraps {
			continue
		}
		d, ok := sample.Lookup(s.Metric)
		if !ok {
			t.Fatalf("%s is not in the catalogue", s.Metric)
		}
		if d.Unit != s.Unit || d.Kind != s.Value.Kind() || len(d.Labels) != len(s.Labels) || d.Labels[0] != s.Labels[0].Name {
			t.Errorf("%s: unit %s kind %v labels %v; catalogue %+v", s.Metric, s.Unit, s.Value.Kind(), s.Labels, d)
		}
	}
}

func TestEventString(t *testing.T) {
	down := false
	e := Event{Name: NameLinkDown, Device: "tor1", Peer: peerA, IfIndex: 3, OperUp: &down}
	if got, want := e.String(), "linkDown device=tor1 peer=127.0.0.1:40001 ifindex=3 oper_up=false"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
