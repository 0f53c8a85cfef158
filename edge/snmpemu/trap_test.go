package snmpemu_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/snmpemu"
	"github.com/rackwatch/rackwatch/edge/traps"
)

// A link change reaches the edge's real trap receiver as a linkDown or
// linkUp of the right device and ifIndex: the agent sends from its own
// address, which the receiver matches against its targets.
func TestLinkTraps(t *testing.T) {
	t.Parallel()
	events := make(chan traps.Event, 4)
	r, err := traps.New(&traps.Opts{
		Addr:        "127.0.0.1:0",
		Communities: []string{"public"},
		// Its own loopback address tells this device from others.
		Targets: map[netip.Addr]string{netip.MustParseAddr("127.0.0.2"): "tor1"},
		Handler: func(e traps.Event) { events <- e },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := r.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	<-r.Ready()

	sw, err := snmpemu.NewSwitch(&snmpemu.SwitchOpts{Ports: 4})
	if err != nil {
		t.Fatal(err)
	}
	a, err := snmpemu.Start(t.Context(), &snmpemu.Opts{Table: sw.Table(), Addr: "127.0.0.2:0", TrapAddr: r.Addr().String()})
	if err != nil {
		// Linux routes all of 127/8 to loopback; other systems need an
		// alias.
		testrig.Missing(t, "no second loopback address: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	sw.SetNotifier(a)

	for _, up := range []bool{false, true} {
		if err := sw.SetLink(3, up); err != nil {
			t.Fatal(err)
		}
		select {
		case e := <-events:
			want := traps.NameLinkDown
			if up {
				want = traps.NameLinkUp
			}
			if e.Device != "tor1" || e.Name != want || e.IfIndex != 3 || e.OperUp == nil || *e.OperUp != up {
				t.Errorf("event %+v, want %s of tor1 ifIndex 3", e, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no trap for link up=%v; receiver stats %+v", up, r.Stats())
		}
	}
	// No change, no trap.
	if err := sw.SetLink(3, true); err != nil {
		t.Fatal(err)
	}
	if st := a.Stats(); st.TrapsSent != 2 {
		t.Errorf("traps sent %d, want 2", st.TrapsSent)
	}
}
