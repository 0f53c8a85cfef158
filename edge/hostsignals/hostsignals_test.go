package hostsignals

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/edge/sample"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// render lists samples as "metric{labels} value", sorted, for comparison.
func render(ss []sample.Sample) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Series()+" "+s.Value.String())
	}
	sort.Strings(out)
	return out
}

func TestReadFixtures(t *testing.T) {
	for _, tc := range []struct {
		root string
		want []string
	}{
		{"intel", []string{
			`cpu_frequency_hertz{cpu="0"} 2.1e+09`,
			`cpu_frequency_hertz{cpu="1"} 2.1e+09`,
			`cpu_frequency_hertz{cpu="2"} 2.1e+09`,
			`cpu_frequency_hertz{cpu="3"} 2.1e+09`,
			`cpu_throttle_count_total{core="0",package="0"} 12`,
			`cpu_throttle_count_total{core="1",package="0"} 0`,
			`cpu_throttle_count_total{core="package",package="0"} 37`,
			`if_carrier_changes_total{ifname="eno1"} 4`,
			`if_fcs_errors_total{ifname="eno1"} 15`,
			`if_in_discards_total{ifname="eno1"} 3`,
			`if_in_errors_total{ifname="eno1"} 15`,
			`if_out_errors_total{ifname="eno1"} 0`,
			`temperature_celsius{sensor="acpitz temp1"} 27.8`,
			`temperature_celsius{sensor="coretemp Core 0"} 93`,
			`temperature_celsius{sensor="coretemp Core 1"} 88`,
			`temperature_celsius{sensor="coretemp Package id 0"} 94`,
			`temperature_crit_celsius{sensor="acpitz temp1"} 105`,
			`temperature_crit_celsius{sensor="coretemp Core 0"} 100`,
			`temperature_crit_celsius{sensor="coretemp Core 1"} 100`,
			`temperature_crit_celsius{sensor="coretemp Package id 0"} 100`,
		}},
		{"amd", []string{
			`cpu_frequency_hertz{cpu="0"} 1.5e+09`,
			`cpu_frequency_hertz{cpu="1"} 1.5e+09`,
			`cpu_throttle_count_total{core="inferred",package="all"} 1`,
			`cpu_throttle_inferred{package="all"} true`,
			`temperature_celsius{sensor="k10temp Tccd1"} 90.25`,
			`temperature_celsius{sensor="k10temp Tctl"} 92.5`,
		}},
		{"vm", []string{
			`if_carrier_changes_total{ifname="eth0"} 2`,
			`if_fcs_errors_total{ifname="eth0"} 0`,
			`if_in_discards_total{ifname="eth0"} 0`,
			`if_in_errors_total{ifname="eth0"} 0`,
			`if_out_errors_total{ifname="eth0"} 0`,
		}},
	} {
		t.Run(tc.root, func(t *testing.T) {
			r := &Reader{Root: filepath.Join("testdata", tc.root), Now: func() time.Time { return t0 }}
			ss, err := r.Read()
			if err != nil {
				t.Fatalf("missing hardware must be no data, not an error: %v", err)
			}
			got := render(ss)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			for _, s := range ss {
				if s.Unit == "" || !s.TS.Equal(t0) {
					t.Errorf("%s: unit %q ts %v", s.Series(), s.Unit, s.TS)
				}
			}
		})
	}
}

func TestInferenceCountsEpisodes(t *testing.T) {
	root := t.TempDir()
	write := func(p, v string) {
		p = filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", "3000000")
	write("sys/class/hwmon/hwmon0/name", "k10temp")
	write("sys/class/hwmon/hwmon0/temp1_label", "Tctl")
	r := &Reader{Root: root}
	inferred := func() (bool, uint64) {
		ss, _ := r.Read()
		var on bool
		var n uint64
		for _, s := range ss {
			switch s.Metric {
			case CPUThrottleActive:
				on = s.Value.Bool()
			case sample.CPUThrottleCount:
				n = s.Value.Uint()
			}
		}
		return on, n
	}
	for i, st := range []struct {
		khz, mc  string
		on       bool
		episodes uint64
	}{
		{"3000000", "60000", false, 0}, // full speed, cool
		{"1200000", "60000", false, 0}, // slow but cool: power saving
		{"3000000", "94000", false, 0}, // hot at full speed: load
		{"1200000", "94000", true, 1},  // hot and slowed: throttling
		{"1100000", "95000", true, 1},  // still the same episode
		{"3000000", "80000", false, 1},
		{"1000000", "91000", true, 2}, // a second episode
	} {
		write("sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", st.khz)
		write("sys/class/hwmon/hwmon0/temp1_input", st.mc)
		if on, n := inferred(); on != st.on || n != st.episodes {
			t.Errorf("step %d (%s kHz, %s m°C): throttling %v, %d episodes; want %v, %d", i, st.khz, st.mc, on, n, st.on, st.episodes)
		}
	}
}

func TestUnreadableAttributeIsReportedNotFatal(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "sys/class/net/eth9/statistics")
	os.MkdirAll(p, 0o755)
	os.WriteFile(filepath.Join(p, "rx_errors"), []byte("not a number\n"), 0o644)
	os.WriteFile(filepath.Join(p, "tx_errors"), []byte("7\n"), 0o644)
	ss, err := (&Reader{Root: root}).Read()
	if err == nil || !strings.Contains(err.Error(), "rx_errors") {
		t.Errorf("err = %v, want one naming rx_errors", err)
	}
	if got := render(ss); len(got) != 1 || got[0] != `if_out_errors_total{ifname="eth9"} 7` {
		t.Errorf("the good attribute was lost: %v", got)
	}
}

func TestKmsg(t *testing.T) {
	k := NewKmsg(filepath.Join("testdata", "kmsg.txt"))
	k.Now = func() time.Time { return t0 }
	if err := k.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`kernel_link_events_total{ifname="eno1",state="down"} 1`,
		`kernel_link_events_total{ifname="eno1",state="up"} 1`,
		`kernel_link_events_total{ifname="eno2",state="down"} 1`,
		`kernel_link_events_total{ifname="ens1f0",state="down"} 1`,
		`kernel_link_events_total{ifname="ens1f0",state="up"} 1`,
		`kernel_socket_memory_exhausted_total 2`,
		`kernel_syn_flood_total{port="443"} 2`,
		`kernel_syn_flood_total{port="8443"} 1`,
	}
	if got := render(k.Samples()); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestKmsgIsBounded(t *testing.T) {
	k := NewKmsg("")
	for port := 0; port < 1000; port++ {
		k.Line("6,1,1,-;TCP: request_sock_TCP: Possible SYN flooding on port " + strings.Repeat("9", 1+port%5) + string(rune('0'+port%10)) + ".")
	}
	for i := 0; i < 2*maxKmsgSeries; i++ {
		k.Line("6,1,1,-;igb: eth" + strings.Repeat("x", i) + " NIC Link is Up")
	}
	if n := len(k.Samples()); n > maxKmsgSeries {
		t.Errorf("%d series, cap %d", n, maxKmsgSeries)
	}
	if k.dropped == 0 {
		t.Error("drops not counted")
	}
}

func TestKmsgMissing(t *testing.T) {
	err := NewKmsg(filepath.Join(t.TempDir(), "kmsg")).Run(context.Background())
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v", err)
	}
}

func TestKmsgDevice(t *testing.T) {
	f, err := os.Open("/dev/kmsg")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("/dev/kmsg: %v", err)
		}
		t.Skipf("/dev/kmsg: %v", err)
	}
	f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	// It starts at the end of the ring buffer, counts nothing old, and
	// returns when its context ends.
	k := NewKmsg("/dev/kmsg")
	if err := k.Run(ctx); err != nil {
		t.Fatal(err)
	}
}
