package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/rackwatch/rackwatch/collector/demo/apinode"
	"periph.io/x/conn/v3/physic"
)

// nodeParams make the demo's nodes quick to heat and clearly slower when
// they throttle: a 3 s thermal constant instead of a real heatsink's tens
// of seconds, PROCHOT at 92 °C below the BMC's 98 °C limit, and a
// throttled CPU at a quarter of its frequency.
var nodeParams = apinode.Params{
	TimeConstant:      3 * time.Second,
	ThrottleCelsius:   92,
	HysteresisCelsius: 2,
	CriticalCelsius:   98,
	ThrottleRatio:     0.25,
	ServiceTime:       8 * time.Millisecond,
	Workers:           16,
}

// The demo's nodes are busy (background is the utilisation of their
// work), which keeps a healthy CPU near 55 °C. A node whose fans fail
// keeps failedFans of its cooling: at full speed its CPU would settle near
// 115 °C, throttled near 68 °C, so it throttles on and off just under its
// PROCHOT point, near its limit but short of the critical one.
const (
	background = 0.5
	failedFans = 0.35
)

// node is one emulated API node of the demo.
type node struct {
	*apinode.Node
	name string
}

func startNode(ctx context.Context, name string, air *rackAir) (*node, error) {
	n, err := apinode.Start(ctx, &apinode.Opts{Name: name, Params: nodeParams})
	if err != nil {
		return nil, fmt.Errorf("demo: node %s: %w", name, err)
	}
	n.Model().SetBackgroundLoad(time.Now(), background)
	nd := &node{Node: n, name: name}
	air.addNode(nd)
	return nd, nil
}

// Temperature is the CPU temperature, which the node's BMC reports.
func (n *node) Temperature(now time.Time) physic.Temperature { return n.Model().CPUTemperature(now) }

func (n *node) setInlet(t physic.Temperature) { n.Model().SetInlet(time.Now(), t.Celsius()) }

func (n *node) setFansFailed(failed bool) {
	f := 1.0
	if failed {
		f = failedFans
	}
	n.setCooling(f)
}

func (n *node) setCooling(factor float64) { n.Model().SetCooling(time.Now(), factor) }

func (n *node) setNetworkDelay(d time.Duration) { n.Node.SetNetworkDelay(d) }
