package snmpemu_test

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/snmpemu"
	"github.com/rackwatch/rackwatch/edge/snmppoll"
	"periph.io/x/conn/v3/physic"
)

// poller returns a poller of the agent on the given clock.
func poller(t *testing.T, a *snmpemu.Agent, clk *testrig.Clock, version string) *snmppoll.Poller {
	t.Helper()
	return pollerCommunity(t, a, clk, version, "public")
}

func pollerCommunity(t *testing.T, a *snmpemu.Agent, clk *testrig.Clock, version, community string) *snmppoll.Poller {
	t.Helper()
	p, err := snmppoll.New(&snmppoll.Opts{Name: "emu", Address: a.Addr(), Version: version, Community: community, Now: clk.Now, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// poll returns series → value of one poll, failing on any error.
func poll(t *testing.T, p *snmppoll.Poller) map[string]string {
	t.Helper()
	ss, err := p.Poll(t.Context())
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	out := map[string]string{}
	for _, s := range ss {
		out[s.Series()] = s.Value.String()
	}
	return out
}

func expect(t *testing.T, got map[string]string, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

// The real poller autodetects the switch (if-mib, lldp) and sees link
// state, error counters, LLDP neighbours and, after a CRC storm starts,
// exactly the storm's rate.
func TestPollerSwitch(t *testing.T) {
	t.Parallel()
	for _, version := range []string{"2c", "1"} {
		t.Run("v"+version, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			sw, err := snmpemu.NewSwitch(&snmpemu.SwitchOpts{Name: "tor1", Ports: 4, Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			if err := sw.SetNeighbor(1, snmpemu.Neighbor{SysName: "node1", PortID: "eth0", ChassisID: []byte{2, 0, 0, 0, 0, 1}}); err != nil {
				t.Fatal(err)
			}
			a := start(t, snmpemu.Opts{Table: sw.Table()})
			p := poller(t, a, clk, version)

			got := poll(t, p)
			if want := []string{"if-mib", "lldp"}; !slices.Equal(p.ActiveProfiles(), want) {
				t.Fatalf("profiles %v, want %v", p.ActiveProfiles(), want)
			}
			expect(t, got, map[string]string{
				`if_oper_up{ifname="swp2"}`:                                               "true",
				`if_fcs_errors_total{ifname="swp3"}`:                                      "0",
				`if_speed_bps{ifname="swp1"}`:                                             "2.5e+10",
				`lldp_neighbor_info{ifname="swp1",neighbor="node1",neighbor_port="eth0"}`: "1",
			})

			if err := sw.CRCStorm(3, 25); err != nil {
				t.Fatal(err)
			}
			if err := sw.SetLink(2, false); err != nil {
				t.Fatal(err)
			}
			if err := sw.AddErrors(1, snmpemu.Errors{In: 5, OutDiscards: 2}); err != nil {
				t.Fatal(err)
			}
			clk.Add(10 * time.Second)
			got = poll(t, p)
			want := map[string]string{
				`if_oper_up{ifname="swp2"}`:               "false",
				`if_fcs_errors_total{ifname="swp3"}`:      "250",
				`if_fcs_errors_per_second{ifname="swp3"}`: "25",
				`if_in_errors_total{ifname="swp3"}`:       "250",
				`if_in_errors_per_second{ifname="swp3"}`:  "25",
				`if_in_errors_total{ifname="swp1"}`:       "5",
				`if_out_discards_total{ifname="swp1"}`:    "2",
				`if_fcs_errors_per_second{ifname="swp1"}`: "0",
				`if_in_octets_per_second{ifname="swp1"}`:  "1.25e+06",
				`if_in_octets_per_second{ifname="swp2"}`:  "0",
				`if_last_change_seconds{ifname="swp2"}`:   "0",
			}
			if version == "1" {
				// SNMPv1 reads ifInOctets: no Counter64 (RFC 2576).
				want[`if_in_octets_total{ifname="swp1"}`] = "12500000"
			}
			expect(t, got, want)

			if err := sw.CRCStorm(3, 0); err != nil {
				t.Fatal(err)
			}
			clk.Add(10 * time.Second)
			expect(t, poll(t, p), map[string]string{
				`if_fcs_errors_total{ifname="swp3"}`:      "250",
				`if_fcs_errors_per_second{ifname="swp3"}`: "0",
			})
		})
	}
}

// The real poller recognises the BMC as an iDRAC and reads its CPU
// temperature from a bound model at each poll, with thresholds and a
// status that follows them.
func TestPollerBMC(t *testing.T) {
	t.Parallel()
	clk := newClock()
	bmc, err := snmpemu.NewBMC(&snmpemu.BMCOpts{Name: "node1-idrac", Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	cpu := physic.ZeroCelsius + 71300*physic.MilliCelsius
	var readAt atomic.Int64 // the network hides the order from the race detector
	if err := bmc.BindCPU(1, snmpemu.TemperatureFunc(func(now time.Time) physic.Temperature {
		readAt.Store(now.UnixNano())
		return cpu
	})); err != nil {
		t.Fatal(err)
	}
	a := start(t, snmpemu.Opts{Table: bmc.Table()})
	p := poller(t, a, clk, "2c")
	got := poll(t, p)
	if want := []string{"idrac"}; !slices.Equal(p.ActiveProfiles(), want) {
		t.Fatalf("profiles %v, want %v", p.ActiveProfiles(), want)
	}
	expect(t, got, map[string]string{
		`temperature_celsius{sensor="CPU1 Temp"}`:                    "71.3",
		`temperature_crit_celsius{sensor="CPU1 Temp"}`:               "98",
		`sensor_health{sensor="CPU1 Temp"}`:                          "0",
		`temperature_celsius{sensor="CPU2 Temp"}`:                    "45",
		`temperature_celsius{sensor="System Board Inlet Temp"}`:      "22",
		`temperature_warn_celsius{sensor="System Board Inlet Temp"}`: "43",
		`fan_speed_rpm{sensor="System Board Fan1"}`:                  "6000",
	})
	if at := time.Unix(0, readAt.Load()); !at.Equal(clk.Now()) {
		t.Errorf("thermometer read at %v, want the BMC's clock %v", at, clk.Now())
	}

	bmc.SetInletTemperature(physic.ZeroCelsius + 44*physic.Celsius)
	if err := bmc.SetCPUTemperature(2, physic.ZeroCelsius+99*physic.Celsius); err != nil {
		t.Fatal(err)
	}
	if err := bmc.SetFanSpeed(1, 12000); err != nil {
		t.Fatal(err)
	}
	clk.Add(10 * time.Second)
	expect(t, poll(t, p), map[string]string{
		`temperature_celsius{sensor="CPU2 Temp"}`:               "99",
		`sensor_health{sensor="CPU2 Temp"}`:                     "2",
		`temperature_celsius{sensor="System Board Inlet Temp"}`: "44",
		`sensor_health{sensor="System Board Inlet Temp"}`:       "1",
		`fan_speed_rpm{sensor="System Board Fan1"}`:             "12000",
	})
	if err := bmc.SetCPUTemperature(3, 0); err == nil {
		t.Error("CPU3 of a 2-CPU BMC was set")
	}
}

// An agent that answers in small messages costs the poller requests, not
// samples: GETBULK responses cut to 484 bytes (RFC 3417's minimum) still
// make a complete poll.
func TestPollerSmallMessages(t *testing.T) {
	t.Parallel()
	clk := newClock()
	sw, err := snmpemu.NewSwitch(&snmpemu.SwitchOpts{Ports: 48, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	big := start(t, snmpemu.Opts{Table: sw.Table()})
	small := start(t, snmpemu.Opts{Table: sw.Table(), MaxMessageSize: snmpemu.MinMaxMessageSize})
	want := poll(t, poller(t, big, clk, "2c"))
	got := poll(t, poller(t, small, clk, "2c"))
	if len(got) != len(want) || len(want) < 48*10 {
		t.Fatalf("%d samples from small messages, %d from large", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if st := small.Stats(); st.Truncated == 0 || st.Answered <= big.Stats().Answered {
		t.Errorf("small agent: %+v; large: %+v", st, big.Stats())
	}
}
