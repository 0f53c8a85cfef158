package service

import (
	"fmt"
	"strings"
	"time"

	"github.com/rackwatch/rackwatch/edge/sample"
	"github.com/rackwatch/rackwatch/edge/sparkplug"
)

// Shape of the fleet the throughput benchmark replays: what one rack edge
// publishes per poll, and how many racks one collector watches.
const (
	fleetPorts       = 48 // ToR switch ports
	fleetNodes       = 40 // nodes (BMCs) per rack
	fleetTemps       = 10 // temperature sensors per BMC
	fleetInletTemps  = 2
	fleetPollSeconds = 10
)

// fleetCounters are the six interface counters the switch profile
// publishes per port (IF-MIB ifHCInOctets, ifHCOutOctets, ifInErrors,
// ifOutErrors, ifInDiscards; EtherLike-MIB dot3StatsFCSErrors).
var fleetCounters = []string{"if_in_octets_total", "if_out_octets_total", sample.IfInErrors, sample.IfOutErrors, sample.IfInDiscards, sample.IfFCSErrors}

// wire is one MQTT publication as the collector receives it.
type wire struct {
	topic   string
	payload []byte
	samples int
}

// fleet plays the rack edges: one Sparkplug session per rack, each with a
// switch, an inlet sensor and fleetNodes BMCs.
type fleet struct {
	racks    int
	clock    time.Time
	sessions []*sparkplug.Session
	next     []uint64 // next sample number per rack edge
	round    uint64
}

func newFleet(racks int, start time.Time) (*fleet, error) {
	f := &fleet{racks: racks, clock: start, next: make([]uint64, racks)}
	for r := range racks {
		s, err := sparkplug.NewSession(sparkplug.SessionOpts{Group: "site1", EdgeNode: rackEdge(r), Now: func() time.Time { return f.clock }})
		if err != nil {
			return nil, err
		}
		f.sessions = append(f.sessions, s)
	}
	return f, nil
}

func rackEdge(r int) string    { return fmt.Sprintf("rack%02d", r+1) }
func bmcDevice(n int) string   { return fmt.Sprintf("bmc%02d", n+1) }
func nodeName(r, n int) string { return fmt.Sprintf("r%02dn%02d", r+1, n+1) }
func portName(n int) string    { return fmt.Sprintf("Ethernet%d", n+1) }

// births returns every edge's NBIRTH (and the DBIRTHs of devices already
// seen).
func (f *fleet) births() ([]wire, error) {
	var out []wire
	for r, s := range f.sessions {
		msgs, err := s.Births(f.next[r])
		if err != nil {
			return nil, err
		}
		out = appendWire(out, msgs)
	}
	return out, nil
}

func appendWire(out []wire, msgs []sparkplug.Message) []wire {
	for _, m := range msgs {
		out = append(out, wire{topic: m.Topic.String(), payload: m.Payload, samples: m.Samples})
	}
	return out
}

// poll returns what every edge publishes in one poll period, and advances
// the clock by that period. The first poll carries each device's DBIRTH.
func (f *fleet) poll() ([]wire, error) {
	var out []wire
	ts := f.clock
	k := f.round
	var buf []sample.Sample
	publish := func(r int, dev string, ss []sample.Sample) error {
		msgs, err := f.sessions[r].Data(dev, ss, f.next[r], false)
		if err != nil {
			return err
		}
		f.next[r] += uint64(len(ss))
		out = appendWire(out, msgs)
		return nil
	}
	for r := range f.racks {
		buf = buf[:0]
		for p := range fleetPorts {
			for c, m := range fleetCounters {
				// A healthy fleet: traffic grows, error counters hold
				// the errors of long ago.
				v, unit := uint64(1+p+c), "packets"
				if c < 2 {
					v, unit = k*v*125_000_000, "bytes" // a busy 10G port
				}
				buf = append(buf, sample.Sample{Metric: m, Labels: sample.L("ifname", portName(p)), Value: sample.Uint(v), Unit: unit, TS: ts})
			}
		}
		if err := publish(r, "tor", buf); err != nil {
			return nil, err
		}
		buf = buf[:0]
		for i := range fleetInletTemps {
			buf = append(buf, sample.Sample{Metric: sample.TemperatureCelsius, Labels: sample.L("sensor", fmt.Sprintf("inlet%d", i)),
				Value: sample.Float(22 + float64((k+uint64(i))%4)*0.25), Unit: "celsius", TS: ts})
		}
		if err := publish(r, "inlet", buf); err != nil {
			return nil, err
		}
		for n := range fleetNodes {
			buf = buf[:0]
			for i := range fleetTemps {
				buf = append(buf, sample.Sample{Metric: sample.TemperatureCelsius, Labels: sample.L("sensor", fmt.Sprintf("CPU%d", i)),
					Value: sample.Float(45 + float64((k+uint64(n+i))%20)*0.5), Unit: "celsius", TS: ts})
			}
			if err := publish(r, bmcDevice(n), buf); err != nil {
				return nil, err
			}
		}
	}
	f.clock = f.clock.Add(fleetPollSeconds * time.Second)
	f.round++
	return out, nil
}

// config is the collector configuration for the fleet: every node with its
// BMC, switch port and load-balancer server.
func (f *fleet) config(stateDir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nstate_dir: %s\nmqtt: {listen: \"127.0.0.1:0\"}\n", stateDir)
	b.WriteString("haproxy:\n  - {name: lb1, address: /nonexistent/admin.sock, period: 1s}\nracks:\n")
	for r := range f.racks {
		fmt.Fprintf(&b, "  - {name: %s, edge: %s, inlet: inlet}\n", rackEdge(r), rackEdge(r))
	}
	b.WriteString("nodes:\n")
	for r := range f.racks {
		for n := range fleetNodes {
			fmt.Fprintf(&b, "  - {name: %s, rack: %s, edge: %s, bmc: %s, switch: {device: tor, ifname: %s}, lb: [{haproxy: lb1, backend: api, server: %s}]}\n",
				nodeName(r, n), rackEdge(r), rackEdge(r), bmcDevice(n), portName(n), nodeName(r, n))
		}
	}
	b.WriteString("correlation: {window: 1m, baseline: 30m}\napi: {listen: \"\"}\n")
	return b.String()
}

// servers returns the fake load balancer's view of the fleet's servers.
func (f *fleet) servers() *fakeRuntime {
	lb := &fakeRuntime{status: map[string]string{}, weight: map[string]int{}, rtime: map[string]time.Duration{}}
	for r := range f.racks {
		for n := range fleetNodes {
			s := nodeName(r, n)
			lb.status[s], lb.weight[s], lb.rtime[s] = "UP", 100, time.Duration(5+n%3)*time.Millisecond
		}
	}
	return lb
}
