package snmppoll

import (
	"context"
	"math"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/sample"
)

// rateSeries returns the rates of one poll: metric → ifname → value.
func rateSeries(t *testing.T, ss []sample.Sample) map[string]map[string]float64 {
	t.Helper()
	out := map[string]map[string]float64{}
	for _, v := range ss {
		if len(v.Metric) > len(rateSuffix) && v.Metric[len(v.Metric)-len(rateSuffix):] == rateSuffix {
			if out[v.Metric] == nil {
				out[v.Metric] = map[string]float64{}
			}
			out[v.Metric][v.Labels.Get("ifname")] = v.Value.Float()
		}
	}
	return out
}

// TestIntegrationRates serves the quantastor recording with snmpsim's
// writecache variation module on sysUpTime and eno1's counters, and moves
// them with SETs between polls: a Counter32 wrap gives the right rate; an
// agent restart, an ifCounterDiscontinuityTime change and a Counter64 that
// goes down give none.
func TestIntegrationRates(t *testing.T) {
	t.Parallel()
	const (
		uptime = "1.3.6.1.2.1.1.3.0"
		errs   = oidIfInErrors + ".2"
		octs   = oidIfHCInOctets + ".2"
		disc   = oidIfDiscTime + ".2"
	)
	path := testrig.Recording(t, "quantastor")
	rec := readRecording(t, path)
	rec.set(uptime, "67:writecache", "value=100000")
	rec.set(errs, "65:writecache", "value=15")
	rec.set(octs, "70:writecache", "value=588589950")
	rec.set(disc, "67:writecache", "value=0")
	rec.write(t)
	agent := testrig.StartSnmpsim(t, filepath.Dir(path))
	setter := agent.Client(t, "quantastor")
	clk := &testClock{t: testNow}
	p, err := New(&Opts{Name: "san01", Address: agent.Addr, Community: "quantastor", Profiles: []string{"if-mib"}, Timeout: 5 * time.Second, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ticks := uint32(100000)
	type step struct {
		name    string
		ticks   int64 // advance; negative: restart at -ticks
		errors  uint
		octets  uint64
		disc    uint32
		want    map[string]float64 // eno1's rates; absent: none
		loRates bool               // whether lo (untouched) has rates
	}
	for _, s := range []step{
		{name: "first", errors: 15, octets: 588589950},
		{name: "steady", ticks: 6000, errors: 75, octets: 588649950, loRates: true,
			want: map[string]float64{"if_in_errors_per_second": 1, "if_in_octets_per_second": 1000}},
		{name: "near the top", ticks: 6000, errors: 4294967290, octets: 588649950, loRates: true,
			want: map[string]float64{"if_in_errors_per_second": float64(4294967290-75) / 60, "if_in_octets_per_second": 0}},
		{name: "counter32 wrap", ticks: 6000, errors: 30, octets: 588649950, loRates: true,
			want: map[string]float64{"if_in_errors_per_second": 0.6, "if_in_octets_per_second": 0}},
		{name: "agent restart", ticks: -500, errors: 2, octets: 100},
		{name: "after the restart", ticks: 6000, errors: 62, octets: 6100, loRates: true,
			want: map[string]float64{"if_in_errors_per_second": 1, "if_in_octets_per_second": 100}},
		{name: "discontinuity", ticks: 6000, errors: 5, octets: 10, disc: 7000, loRates: true},
		{name: "counter64 reset", ticks: 6000, errors: 65, octets: 5, disc: 7000, loRates: true,
			want: map[string]float64{"if_in_errors_per_second": 1}},
	} {
		clk.advance(time.Minute)
		if s.ticks < 0 {
			ticks = uint32(-s.ticks)
		} else {
			ticks += uint32(s.ticks)
		}
		res, err := setter.Set([]gosnmp.SnmpPDU{
			{Name: uptime, Type: gosnmp.TimeTicks, Value: ticks},
			{Name: errs, Type: gosnmp.Counter32, Value: s.errors},
			{Name: octs, Type: gosnmp.Counter64, Value: s.octets},
			{Name: disc, Type: gosnmp.TimeTicks, Value: s.disc},
		})
		if err != nil || res.Error != gosnmp.NoError {
			t.Fatalf("%s: set: %v %v", s.name, err, res)
		}
		got := rateSeries(t, poll(t, p))
		for _, m := range []string{"if_in_errors_per_second", "if_in_octets_per_second"} {
			v, have := got[m]["eno1"]
			w, want := s.want[m]
			switch {
			case have != want:
				t.Errorf("%s: %s{eno1} present %v (%v), want %v", s.name, m, have, v, want)
			case have && math.Abs(v-w) > 1e-9*math.Max(1, w):
				t.Errorf("%s: %s{eno1} = %v, want %v", s.name, m, v, w)
			}
		}
		if _, ok := got["if_in_errors_per_second"]["lo"]; ok != s.loRates {
			t.Errorf("%s: rate for lo present %v, want %v", s.name, ok, s.loRates)
		}
	}
}

// forwarder relays UDP datagrams between one client and a backend that
// can change, so that a poller keeps its address while the agent behind
// it restarts, or is reached over another address family.
type forwarder struct {
	Addr    string
	mu      sync.Mutex
	backend net.Addr
	client  net.Addr
}

func startForwarder(t *testing.T, network, listen string) *forwarder {
	t.Helper()
	pc, err := net.ListenPacket(network, listen)
	if err != nil {
		if os.Getenv("CI") != "true" {
			t.Skipf("no %s loopback to listen on: %v", network, err)
		}
		t.Fatal(err)
	}
	up, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{Addr: pc.LocalAddr().String()}
	var wg sync.WaitGroup
	relay := func(from, to net.PacketConn, inbound bool) {
		defer wg.Done()
		buf := make([]byte, 65536)
		for {
			n, src, err := from.ReadFrom(buf)
			if err != nil {
				return
			}
			f.mu.Lock()
			dst := f.backend
			if inbound {
				f.client = src
			} else {
				dst = f.client
			}
			f.mu.Unlock()
			if dst != nil {
				to.WriteTo(buf[:n], dst)
			}
		}
	}
	wg.Add(2)
	go relay(pc, up, true)
	go relay(up, pc, false)
	t.Cleanup(func() {
		pc.Close()
		up.Close()
		wg.Wait()
	})
	return f
}

func (f *forwarder) to(t *testing.T, addr string) {
	t.Helper()
	a, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.backend = a
}

// TestIntegrationAgentRestart polls a real snmpd, then another one started
// later at the same address, as a restarted agent: its sysUpTime went back,
// so that interval has no rates, and the next one has them again.
func TestIntegrationAgentRestart(t *testing.T) {
	t.Parallel()
	fwd := startForwarder(t, "udp4", "127.0.0.1:0")
	first := testrig.StartSnmpd(t, testrig.SnmpdOpts{})
	fwd.to(t, first.Addr)
	p, err := New(&Opts{Name: "host1", Address: fwd.Addr, Community: first.Community, Profiles: []string{"if-mib"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	loRate := func() bool {
		_, ok := rateSeries(t, poll(t, p))["if_in_octets_per_second"]["lo"]
		return ok
	}
	if loRate() {
		t.Error("first poll has rates")
	}
	// Let the first agent's sysUpTime grow beyond what the second one's
	// will be when polled.
	time.Sleep(3 * time.Second)
	if !loRate() {
		t.Error("no rate over a normal interval")
	}
	second := testrig.StartSnmpd(t, testrig.SnmpdOpts{})
	fwd.to(t, second.Addr)
	first.Stop()
	if loRate() {
		t.Error("rates across the agent's restart")
	}
	time.Sleep(time.Second)
	if !loRate() {
		t.Error("no rate after the restart")
	}
}

// TestIntegrationIPv6 polls snmpd over IPv6 loopback.
func TestIntegrationIPv6(t *testing.T) {
	t.Parallel()
	fwd := startForwarder(t, "udp6", "[::1]:0")
	agent := testrig.StartSnmpd(t, testrig.SnmpdOpts{})
	fwd.to(t, agent.Addr)
	p, err := New(&Opts{Name: "host6", Address: fwd.Addr, Community: agent.Community})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if g := p.client.(*agentClient).cfg; g.Target != "::1" {
		t.Fatalf("target %q, want ::1", g.Target)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ss, err := p.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkLoopback(t, ss)
}
