package actuate_test

import (
	"context"
	"errors"
	"io/fs"
	"log"
	"time"

	"github.com/rackwatch/rackwatch/collector/actuate"
	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/collector/haproxy"
)

// Example wires the engine to HAProxy: the state file restores what the
// engine held before a restart, the reconciler applies it and repairs what
// a reload loses, and each decision is carried out through Apply.
func Example() {
	const statePath = "/var/lib/rackwatch/desired.json"
	engine, err := decide.New(decide.Policy{})
	if err != nil {
		log.Fatal(err)
	}
	st, err := actuate.LoadState(statePath)
	switch {
	case errors.Is(err, fs.ErrNotExist): // first start: nothing held
	case err != nil:
		log.Fatal(err) // corrupt: never start as if nothing were drained
	default:
		engine.Restore(st.Levels, time.Now())
	}

	lb1, err := haproxy.New(&haproxy.Opts{Name: "lb1", Addr: "/run/haproxy/admin.sock"})
	if err != nil {
		log.Fatal(err)
	}
	hap, err := actuate.NewHAProxy(actuate.HAProxyOpts{LBs: map[string]actuate.Runtime{"lb1": lb1}})
	if err != nil {
		log.Fatal(err)
	}
	// The decision loop owns the engine; it publishes a copy of the
	// desired state after each tick for the reconciler to read.
	desired := make(chan map[decide.Target]decide.Desired, 1)
	desired <- engine.Desired()
	snapshot := func() map[decide.Target]decide.Desired {
		d := <-desired
		desired <- d
		return d
	}
	r, err := actuate.New(actuate.Opts{Actuators: []actuate.Actuator{hap}, Desired: snapshot, Interval: 15 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = r.Run(ctx) }()

	// In the decision loop, each tick: evaluate, publish the new desired
	// state, then carry out each decision.
	levels := st.Levels // what the engine holds below full service
	if levels == nil {
		levels = map[decide.Target]decide.Level{}
	}
	decisions := engine.Evaluate(time.Now(), nil)
	<-desired
	desired <- engine.Desired()
	for _, d := range decisions {
		t := decide.Target{Node: d.Node, LB: d.LB, Backend: d.Backend, Server: d.Server}
		switch d.Action {
		case decide.ActShed, decide.ActDrain, decide.ActRestore, decide.ActRollback:
			if !d.Taken || d.DryRun {
				break
			}
			if err := r.Apply(actuate.WithDecision(ctx, d), t, d.Desired); err != nil {
				log.Print(err)
				engine.Failed(d)
			} else if d.To == decide.Full {
				delete(levels, t)
			} else {
				levels[t] = d.To
			}
		case decide.ActPinned:
			delete(levels, t) // the engine stands back at full service
		}
	}
	// ... then publish again (Engine.Failed may have changed it) and
	// persist the levels.
	<-desired
	desired <- engine.Desired()
	if err := actuate.SaveState(statePath, actuate.State{Saved: time.Now(), Levels: levels}); err != nil {
		log.Print(err)
	}
}
