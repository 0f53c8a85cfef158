package correlate

import (
	"fmt"
	"strings"

	"github.com/rackwatch/rackwatch/collector/config"
	"github.com/rackwatch/rackwatch/collector/telemetry"
	"github.com/rackwatch/rackwatch/edge/sample"
)

// MetricLLDPNeighbor is the LLDP neighbour info metric the edge publishes
// for each switch port: labels ifname, neighbor (the system name) and
// neighbor_port.
const MetricLLDPNeighbor = "lldp_neighbor_info"

// Port is where LLDP says a node is cabled.
type Port struct{ Edge, Device, IfName string }

func (p Port) String() string { return p.Device + "/" + p.IfName }

// Finding is what LLDP says about a node's switch port.
type Finding struct {
	Node string
	// Learned is set when the inventory names no port and LLDP found one;
	// Disagrees when the inventory's port is not the one LLDP reports.
	Learned, Disagrees bool
	LLDP               Port
	Inventory          string
}

func (f Finding) String() string {
	if f.Disagrees {
		return fmt.Sprintf("node %s: the inventory says switch port %s, LLDP says %s", f.Node, f.Inventory, f.LLDP)
	}
	return fmt.Sprintf("node %s: no switch port in the inventory; LLDP says %s", f.Node, f.LLDP)
}

// lldpPort looks for a node among the LLDP neighbours the edges report. A
// neighbour's system name matches the node's name, or its first label
// when it is a fully qualified name.
func lldpPort(store *telemetry.Store, edges []string, node string) (Port, bool) {
	for _, edge := range edges {
		for _, dev := range store.Devices(edge) {
			var found Port
			ok := false
			store.Find(edge, dev, telemetry.Match{Metric: MetricLLDPNeighbor}, func(s sample.Sample) bool {
				name := s.Labels.Get("neighbor")
				if host, _, _ := strings.Cut(name, "."); name == node || host == node {
					found, ok = Port{Edge: edge, Device: dev, IfName: s.Labels.Get("ifname")}, true
					return false
				}
				return true
			})
			if ok {
				return found, true
			}
		}
	}
	return Port{}, false
}

// Topology compares the inventory's switch ports with what LLDP reports,
// and learns the port of nodes the inventory leaves without one; the
// learned ports feed the link evidence from then on.
func (c *Correlator) Topology() []Finding {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Finding
	for _, n := range c.cfg.Nodes {
		edges := []string{n.Edge}
		if n.Switch != nil && n.Switch.Edge != n.Edge {
			edges = append(edges, n.Switch.Edge)
		}
		p, ok := lldpPort(c.store, edges, n.Name)
		if !ok {
			continue
		}
		switch {
		case n.Switch == nil:
			c.learned[n.Name] = p
			out = append(out, Finding{Node: n.Name, Learned: true, LLDP: p})
		case n.Switch.Device != p.Device || n.Switch.IfName != p.IfName:
			out = append(out, Finding{Node: n.Name, Disagrees: true, LLDP: p, Inventory: n.Switch.Device + "/" + n.Switch.IfName})
		}
	}
	return out
}

// port returns the switch port of a node: the inventory's, or the one
// LLDP taught.
func (c *Correlator) port(n config.Node) *config.Port {
	if n.Switch != nil {
		return n.Switch
	}
	if p, ok := c.learned[n.Name]; ok {
		return &config.Port{Edge: p.Edge, Device: p.Device, IfName: p.IfName}
	}
	return nil
}
