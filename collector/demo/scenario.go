package demo

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// step is one event of a scenario, at an offset from its start.
type step struct {
	at  time.Duration
	say string
	do  func(w *world) error
}

// scenario is a scripted incident and its end. length covers the fault,
// the collector's response and the restore, so that scenarios can follow
// each other.
type scenario struct {
	name   string
	title  string
	length time.Duration
	steps  []step
	parts  []string // for "all": the scenarios it plays, in order
}

// Scenarios lists the scenarios by name, in the order "all" plays them.
func Scenarios() []string {
	out := make([]string, 0, len(scenarios))
	for _, s := range scenarios {
		out = append(out, s.name)
	}
	return out
}

var scenarios = []*scenario{
	{
		name: "hot-node", title: "a hot node in rack 2: shed, drained, then restored once it cools",
		length: 45 * time.Second,
		steps: []step{
			{0, "r2n2's fans fail: its CPU heats up, throttles, and its requests slow down", func(w *world) error { return w.heat("r2n2", true) }},
			{22 * time.Second, "r2n2's fans are replaced: it cools down", func(w *world) error { return w.heat("r2n2", false) }},
		},
	},
	{
		name: "crc-storm", title: "a CRC storm on one switch port: r1n3's cable goes bad, then is replaced",
		length: 45 * time.Second,
		steps: []step{
			{0, "the cable of r1n3 goes bad: rack 1's switch counts CRC errors on swp3, and r1n3's requests are retransmitted", func(w *world) error { return w.crcStorm(1, 3, true) }},
			{22 * time.Second, "the cable is replaced: the errors stop", func(w *world) error { return w.crcStorm(1, 3, false) }},
		},
	},
	{
		name: "cooling-failure", title: "rack 3's cooling fails: one rack alarm, no mass drain",
		length: 40 * time.Second,
		steps: []step{
			{0, "rack 3's cooling fails: its inlet air climbs towards 42 °C and hot air recirculates; its three CPUs heat up together", func(w *world) error { return w.cooling(3, false) }},
			{25 * time.Second, "rack 3's cooling is back", func(w *world) error { return w.cooling(3, true) }},
		},
	},
	{
		name: "recovery", title: "the collector restarts during a drain: the node stays drained, the edges' data is kept, and the restore follows",
		length: 55 * time.Second,
		steps: []step{
			{0, "r2n2's fans fail", func(w *world) error { return w.heat("r2n2", true) }},
			{16 * time.Second, "the collector restarts; the edges keep their samples in their spools meanwhile", func(w *world) error { return w.restartCollector(3 * time.Second) }},
			{30 * time.Second, "r2n2's fans are replaced", func(w *world) error { return w.heat("r2n2", false) }},
		},
	},
	{
		name: "all", title: "every scenario in turn",
		parts: []string{"hot-node", "crc-storm", "cooling-failure", "recovery"},
	},
}

// lookup finds a scenario by name; the error lists the valid ones.
func lookup(name string) (*scenario, error) {
	for _, s := range scenarios {
		if s.name == name {
			return s, nil
		}
	}
	names := Scenarios()
	sort.Strings(names)
	return nil, fmt.Errorf("demo: no scenario %q; the scenarios are: %s", name, strings.Join(names, ", "))
}

// play runs the scenario's steps at their offsets, then waits for its end.
func (s *scenario) play(ctx context.Context, w *world) {
	if len(s.parts) > 0 {
		for _, name := range s.parts {
			p, _ := lookup(name)
			p.play(ctx, w)
		}
		return
	}
	if ctx.Err() != nil {
		return
	}
	start := time.Now()
	w.narr.say("scenario %s: %s", s.name, s.title)
	for _, st := range s.steps {
		sleep(ctx, time.Until(start.Add(st.at)))
		if ctx.Err() != nil {
			return
		}
		w.narr.say("%s", st.say)
		if err := st.do(w); err != nil {
			w.narr.say("the step failed: %v", err)
		}
	}
	sleep(ctx, time.Until(start.Add(s.length)))
}
