package correlate

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/config"
	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/collector/haproxy"
	"github.com/rackwatch/rackwatch/collector/latency"
	"github.com/rackwatch/rackwatch/collector/lbwatch"
	"github.com/rackwatch/rackwatch/collector/telemetry"
	"github.com/rackwatch/rackwatch/edge/hostsignals"
	"github.com/rackwatch/rackwatch/edge/sample"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

type fakeLB struct{}

func (fakeLB) ShowInfo(context.Context) (haproxy.Info, error) { return haproxy.Info{Pid: 1}, nil }
func (fakeLB) ShowStat(context.Context) ([]haproxy.Stat, error) {
	return []haproxy.Stat{{Proxy: "api", Server: "s1", Type: haproxy.Server, Status: "UP 2/3", RTime: 30 * time.Millisecond, Stot: 500}}, nil
}
func (fakeLB) ShowServersState(context.Context) ([]haproxy.ServerState, error) {
	return []haproxy.ServerState{{Backend: "api", Server: "s1", OpState: 2, Weight: 50, InitialWeight: 100}}, nil
}

type fixedLatency struct{ r latency.Reading }

func (fixedLatency) Name() string { return "fixed" }
func (f fixedLatency) Latency(lb, backend, server string) (latency.Reading, bool) {
	return f.r, server == "s1"
}

const inventory = `version: 1
state_dir: /var/lib/rackwatch
haproxy: [{name: lb1, address: /run/haproxy.sock}]
racks: [{name: r1, edge: rack1, inlet: inlet}]
nodes:
  - name: api1
    rack: r1
    edge: rack1
    bmc: api1-bmc
    switch: {device: tor1, ifname: swp1}
    host: {edge: api1}
    lb: [{haproxy: lb1, backend: api, server: s1}]
  - {name: api2, rack: r1, edge: rack1, bmc: api2-bmc, lb: [{haproxy: lb1, backend: api, server: s2}]}
correlation: {window: 30s, baseline: 60s}
`

func s(metric string, v sample.Value, ts time.Time, labels ...string) sample.Sample {
	return sample.Sample{Metric: metric, Labels: sample.L(labels...), Value: v, TS: ts}
}

func TestObservations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte(inventory), 0o600)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	store := telemetry.New(0)
	lbs := lbwatch.New([]lbwatch.Instance{{Name: "lb1", Runtime: fakeLB{}, Period: time.Second}}, time.Minute, nil, func() time.Time { return t0 })
	if err := lbs.Poll(context.Background(), lbwatch.Instance{Name: "lb1", Runtime: fakeLB{}}); err != nil {
		t.Fatal(err)
	}
	c := New(cfg, store, lbs, []latency.Source{fixedLatency{latency.Reading{Latency: 30 * time.Millisecond, Samples: 200}}}, 50)
	for i := 0; i <= 3; i++ {
		ts := t0.Add(time.Duration(i-3) * 10 * time.Second)
		store.Add("rack1", "api1-bmc", []sample.Sample{
			s(sample.TemperatureCelsius, sample.Float(70+float64(i)), ts, "sensor", "CPU1 Temp"),
			s(sample.TemperatureCritical, sample.Float(95), ts, "sensor", "CPU1 Temp"),
			s(sample.TemperatureCelsius, sample.Float(30), ts, "sensor", "Inlet Temp"),
		})
		store.Add("api1", "host", []sample.Sample{
			s(sample.TemperatureCelsius, sample.Float(60), ts, "sensor", "coretemp Package id 0"),
			s(sample.CPUThrottleCount, sample.Uint(uint64(100+30*i)), ts, "package", "0", "core", "package"),
			s(sample.IfFCSErrors, sample.Uint(uint64(10*i)), ts, "ifname", "eno1"),
			s(hostsignals.IfCarrierChanges, sample.Uint(uint64(i/2)), ts, "ifname", "eno1"),
			s(hostsignals.KernelSynFlood, sample.Uint(uint64(i)), ts, "port", "443"),
		})
		store.Add("rack1", "tor1", []sample.Sample{
			s(sample.IfFCSErrors, sample.Uint(uint64(60*i)), ts, "ifname", "swp1"),
			s(sample.IfOperUp, sample.Bool(i != 2), ts, "ifname", "swp1"),
			s(sample.IfFCSErrors, sample.Uint(1e6*uint64(i)), ts, "ifname", "swp9"), // someone else's port
		})
		store.Add("rack1", "inlet", []sample.Sample{s(sample.TemperatureCelsius, sample.Float(27.5), ts, "sensor", "inlet")})
	}
	obs := c.Observations(t0)
	if len(obs) != 2 {
		t.Fatalf("%d observations", len(obs))
	}
	o := obs[0]
	want := decide.Observation{
		Node: "api1", Rack: "r1", LB: "lb1", Backend: "api", Server: "s1",
		LBKnown: true, Status: decide.StatusUp, WeightPct: 50,
		CPUTemp: 73, CPUTempLimit: 95, CPUTempAt: t0,
		InletTemp: 27.5, InletTempAt: t0,
		ThrottleRate: 3, HaveThrottle: true,
		FCSRate: 7, HaveFCS: true, // 6/s on the switch port, 1/s on the NIC
		Flaps: 3, HaveFlaps: true, // down and up on the port, one carrier change
		KernelEvents: 3, HaveKernel: true,
		Latency: 30 * time.Millisecond, LatencySamples: 200, HaveLatency: true,
	}
	for _, f := range []*float64{&o.CPUTemp, &o.ThrottleRate, &o.FCSRate, &o.Flaps, &o.KernelEvents} {
		*f = math.Round(*f*1e6) / 1e6 // rates are divisions
	}
	o.CPUTempAt, o.InletTempAt = o.CPUTempAt.UTC(), o.InletTempAt.UTC()
	if o != want {
		t.Errorf("observation:\n got %+v\nwant %+v", o, want)
	}
	if b := obs[1]; b.LBKnown || !b.CPUTempAt.IsZero() || b.HaveFCS || b.HaveLatency {
		t.Errorf("api2 has no data at all, yet: %+v", b)
	}
}

func TestTopologyFromLLDP(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte(inventory), 0o600)
	cfg, _ := config.Load(path)
	store := telemetry.New(0)
	store.Add("rack1", "tor1", []sample.Sample{
		s(MetricLLDPNeighbor, sample.Uint(1), t0, "ifname", "swp7", "neighbor", "api1.example.net", "neighbor_port", "eno1"),
		s(MetricLLDPNeighbor, sample.Uint(1), t0, "ifname", "swp2", "neighbor", "api2", "neighbor_port", "eno1"),
		s(sample.IfFCSErrors, sample.Uint(0), t0, "ifname", "swp2"),
		s(sample.IfFCSErrors, sample.Uint(100), t0.Add(10*time.Second), "ifname", "swp2"),
	})
	lbs := lbwatch.New(nil, time.Minute, nil, nil)
	c := New(cfg, store, lbs, nil, 1)
	fs := c.Topology()
	if len(fs) != 2 || !fs[0].Disagrees || fs[0].LLDP.IfName != "swp7" || !fs[1].Learned || fs[1].LLDP.IfName != "swp2" {
		t.Fatalf("findings %v", fs)
	}
	// api2's learned port now feeds its link evidence.
	if o := c.Observations(t0.Add(10 * time.Second)); len(o) != 2 || !o[1].HaveFCS || o[1].FCSRate != 10 {
		t.Errorf("api2 after learning its port: %+v", o[1])
	}
}
