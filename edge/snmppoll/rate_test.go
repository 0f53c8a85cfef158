package snmppoll

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/rackwatch/rackwatch/edge/sample"
)

// TestRates polls a fake agent several times, moving its sysUpTime, the
// poller's clock and the counters between polls, and checks the rate each
// step yields, or that it yields none.
func TestRates(t *testing.T) {
	t.Parallel()
	type step struct {
		name     string
		wall     time.Duration // poller clock advance
		uptime   int64         // sysUpTime advance, hundredths (negative: restart to -uptime)
		inErrors gosnmp.SnmpPDU
		octets   gosnmp.SnmpPDU // ifHCInOctets, or ifInOctets
		disc     uint32         // ifCounterDiscontinuityTime
		// want maps a rate metric to its value; absent means no sample.
		want map[string]float64
	}
	const errs, hc, oct = oidIfInErrors + ".1", oidIfHCInOctets + ".1", oidIfInOctets + ".1"
	steps := []step{
		{name: "first poll: no rate", inErrors: counter32(errs, 100), octets: counter64(hc, 1000)},
		{name: "steady", wall: time.Minute, uptime: 6000, inErrors: counter32(errs, 160), octets: counter64(hc, 61000),
			want: map[string]float64{"if_in_errors_per_second": 1, "if_in_octets_per_second": 1000}},
		{name: "agent time, not wall time", wall: 65 * time.Second, uptime: 6000, inErrors: counter32(errs, 220), octets: counter64(hc, 61000),
			want: map[string]float64{"if_in_errors_per_second": 1, "if_in_octets_per_second": 0}},
		{name: "near the top", wall: time.Minute, uptime: 6000, inErrors: counter32(errs, 4294967196), octets: counter64(hc, 61000),
			want: map[string]float64{"if_in_errors_per_second": float64(4294967196-220) / 60, "if_in_octets_per_second": 0}},
		// 2^32 - 4294967196 + 44 = 144 errors in 60 s.
		{name: "counter32 wrap", wall: time.Minute, uptime: 6000, inErrors: counter32(errs, 44), octets: counter64(hc, 61000),
			want: map[string]float64{"if_in_errors_per_second": 2.4, "if_in_octets_per_second": 0}},
		// A Counter64 that goes down was reset, it did not wrap.
		{name: "counter64 reset", wall: time.Minute, uptime: 6000, inErrors: counter32(errs, 44), octets: counter64(hc, 500),
			want: map[string]float64{"if_in_errors_per_second": 0}},
		{name: "after the reset", wall: time.Minute, uptime: 6000, inErrors: counter32(errs, 44), octets: counter64(hc, 6500),
			want: map[string]float64{"if_in_errors_per_second": 0, "if_in_octets_per_second": 100}},
		// The agent restarted: sysUpTime went back, counters restart;
		// no rate, never a spike.
		{name: "agent restart", wall: time.Minute, uptime: -3000, inErrors: counter32(errs, 5), octets: counter64(hc, 10)},
		{name: "after the restart", wall: time.Minute, uptime: 6000, inErrors: counter32(errs, 65), octets: counter64(hc, 6010),
			want: map[string]float64{"if_in_errors_per_second": 1, "if_in_octets_per_second": 100}},
		// ifCounterDiscontinuityTime changed: the interface's counters
		// restarted (a line card swap) while the agent did not.
		{name: "discontinuity", wall: time.Minute, uptime: 6000, inErrors: counter32(errs, 3), octets: counter64(hc, 20), disc: 9000},
		{name: "after the discontinuity", wall: time.Minute, uptime: 6000, inErrors: counter32(errs, 63), octets: counter64(hc, 80), disc: 9000,
			want: map[string]float64{"if_in_errors_per_second": 1, "if_in_octets_per_second": 1}},
		// The 64-bit column disappeared: the 32-bit one is another series
		// of values, so no rate until the next poll.
		{name: "switch to ifInOctets", wall: time.Minute, uptime: 6000, inErrors: counter32(errs, 63), octets: counter32(oct, 5), disc: 9000,
			want: map[string]float64{"if_in_errors_per_second": 0}},
		{name: "on ifInOctets", wall: time.Minute, uptime: 6000, inErrors: counter32(errs, 63), octets: counter32(oct, 65), disc: 9000,
			want: map[string]float64{"if_in_errors_per_second": 0, "if_in_octets_per_second": 1}},
		// sysUpTime stood still: no interval to divide by.
		{name: "frozen sysUpTime", wall: time.Minute, uptime: 0, inErrors: counter32(errs, 64), octets: counter32(oct, 66), disc: 9000},
		// sysUpTime advanced far less than the poller's clock: the agent
		// restarted and its uptime overtook the previous one.
		{name: "uptime behind the wall clock", wall: 10 * time.Minute, uptime: 6000, inErrors: counter32(errs, 64), octets: counter32(oct, 66), disc: 9000},
	}
	f := newFakeAgent(ifRows(port{index: 1, descr: "eth0", name: "eth0", noFCS: true})...)
	clk := &testClock{t: testNow}
	p := newTestPollerOpts(t, f, &Opts{Profiles: []string{"if-mib"}, Now: clk.now})
	uptime := uint32(50000)
	for _, s := range steps {
		clk.advance(s.wall)
		if s.uptime < 0 {
			uptime = uint32(-s.uptime)
		} else {
			uptime += uint32(s.uptime)
		}
		f.remove(oidIfHCInOctets, oidIfInOctets)
		f.set(timeticks("1.3.6.1.2.1.1.3.0", uptime), s.inErrors, s.octets, timeticks(oidIfDiscTime+".1", s.disc))
		ss, err := p.Poll(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		got := map[string]sample.Sample{}
		for _, smp := range ss {
			got[smp.Metric] = smp
		}
		for _, m := range []string{"if_in_errors_per_second", "if_in_octets_per_second"} {
			smp, have := got[m]
			w, want := s.want[m]
			switch {
			case have != want:
				t.Errorf("%s: %s present %v, want %v (%v)", s.name, m, have, want, smp.Value)
			case have && (smp.Value.Kind() != sample.KindFloat || math.Abs(smp.Value.Float()-w) > 1e-9*math.Max(1, w)):
				t.Errorf("%s: %s = %v, want %v", s.name, m, smp.Value, w)
			case have && (smp.Labels.Get("ifname") != "eth0" || smp.Unit == ""):
				t.Errorf("%s: %s labels %v unit %q", s.name, m, smp.Labels, smp.Unit)
			}
		}
		// ifOutErrors stays 0 and has a rate of 0 whenever the interval
		// is good.
		if _, ok := s.want["if_in_errors_per_second"]; ok {
			if smp, ok := got["if_out_errors_per_second"]; !ok || smp.Value.Float() != 0 {
				t.Errorf("%s: if_out_errors_per_second %v %v", s.name, smp.Value, ok)
			}
		}
	}
}

func TestAgentClock(t *testing.T) {
	t.Parallel()
	at := func(ticks uint32, wall time.Duration) agentClock {
		return agentClock{ticks: ticks, wall: testNow.Add(wall), ok: true}
	}
	for _, tt := range []struct {
		name      string
		prev, cur agentClock
		ok        bool
		seconds   float64
		restarted bool
	}{
		{"normal", at(1000, 0), at(7000, time.Minute), true, 60, false},
		// TimeTicks wrap after 497 days, a normal step by the modular
		// difference.
		{"sysUpTime wrap", at(math.MaxUint32-999, 0), at(5000, time.Minute), true, 60, false},
		{"restart", at(1_000_000, 0), at(3000, time.Minute), false, 0, true},
		{"slower than the wall clock", at(1000, 0), at(2000, time.Minute), false, 0, false},
		{"faster than the wall clock", at(1000, 0), at(100000, time.Minute), false, 0, false},
		{"within slack", at(1000, 0), at(8000, time.Minute), true, 70, false},
		{"no sysUpTime", agentClock{wall: testNow}, at(7000, time.Minute), false, 0, false},
		{"clock went back", at(1000, time.Minute), at(7000, 0), false, 0, false},
	} {
		iv := tt.prev.interval(tt.cur)
		if iv.ok != tt.ok || iv.seconds != tt.seconds || tt.prev.restarted(tt.cur) != tt.restarted {
			t.Errorf("%s: interval %+v, restarted %v; want ok %v, %v s, restarted %v", tt.name, iv, tt.prev.restarted(tt.cur), tt.ok, tt.seconds, tt.restarted)
		}
	}
}
