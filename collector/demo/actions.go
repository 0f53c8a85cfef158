package demo

import (
	"fmt"
	"sync"
	"time"

	"github.com/rackwatch/rackwatch/edge/edgenode"
	"periph.io/x/conn/v3/physic"
)

// Rack air: the inlet a rack's sensors read, the air its nodes breathe.
var (
	normalInlet = physic.ZeroCelsius + 22*physic.Celsius
	failedInlet = physic.ZeroCelsius + 42*physic.Celsius
	// recirculation is the cooling left to a rack's nodes when its
	// cooling fails: hot exhaust air comes back round to the inlets, and
	// the CPUs climb to their throttling point together.
	recirculation = 0.6
	// outletRise is how much warmer the air leaves the rack.
	outletRise = 12 * physic.Celsius
)

// crcRate is the CRC storm's error rate on the bad port, in frames per
// second; retransmitDelay what it adds to the node's responses.
const (
	crcRate         = 200
	retransmitDelay = 25 * time.Millisecond
)

// rackAir is a rack's inlet temperature: its edge's emulated sensors,
// its BMCs' inlet probes and its nodes' cooling all follow it.
type rackAir struct {
	mu    sync.Mutex
	inlet physic.Temperature
	edge  *edgenode.Node
	nodes []*node
}

func newRackAir() *rackAir { return &rackAir{inlet: normalInlet} }

// Temperature is the inlet now, for BMCs and nodes.
func (a *rackAir) Temperature(time.Time) physic.Temperature {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inlet
}

// attach binds the rack's edge, whose emulated sensors then read the air.
func (a *rackAir) attach(n *edgenode.Node) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.edge = n
	a.applyLocked()
}

func (a *rackAir) addNode(n *node) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.nodes = append(a.nodes, n)
	n.setInlet(a.inlet)
}

func (a *rackAir) set(t physic.Temperature) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inlet = t
	a.applyLocked()
}

type thermometer interface{ SetTemperature(physic.Temperature) }

func (a *rackAir) applyLocked() {
	for _, n := range a.nodes {
		n.setInlet(a.inlet)
	}
	if a.edge == nil {
		return
	}
	for name, t := range map[string]physic.Temperature{"inlet": a.inlet, "outlet": a.inlet + outletRise, "climate": a.inlet} {
		if d, ok := a.edge.Emulated(name); ok {
			if m, ok := d.(thermometer); ok {
				m.SetTemperature(t)
			}
		}
	}
}

func (w *world) node(name string) (*node, error) {
	n, ok := w.nodes[name]
	if !ok {
		return nil, fmt.Errorf("demo: no node %q", name)
	}
	return n, nil
}

// heat fails (on) or repairs the fans of a node.
func (w *world) heat(name string, on bool) error {
	n, err := w.node(name)
	if err != nil {
		return err
	}
	n.setFansFailed(on)
	return nil
}

// crcStorm starts or ends CRC errors on a switch port, and the
// retransmissions they cost the node cabled to it.
func (w *world) crcStorm(rack, port int, on bool) error {
	n, err := w.node(nodeName(rack, port))
	if err != nil {
		return err
	}
	rate, delay := 0.0, time.Duration(0)
	if on {
		rate, delay = crcRate, retransmitDelay
	}
	if err := w.switches[rack-1].CRCStorm(port, rate); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	n.setNetworkDelay(delay)
	return nil
}

// cooling repairs (ok) or fails a rack's cooling.
func (w *world) cooling(rack int, ok bool) error {
	t, f := failedInlet, recirculation
	if ok {
		t, f = normalInlet, 1
	}
	w.inlets[rack-1].set(t)
	for n := 1; n <= nodesPerRack; n++ {
		w.nodes[nodeName(rack, n)].setCooling(f)
	}
	return nil
}

// restartCollector stops the collector and its broker, and starts them
// again after down.
func (w *world) restartCollector(down time.Duration) error {
	w.stopCollector()
	time.Sleep(down)
	if err := w.startCollector(); err != nil {
		return err
	}
	w.narr.say("the collector is back: it reloaded its desired state and reads the edges' replayed samples")
	return nil
}
