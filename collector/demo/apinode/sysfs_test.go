package apinode

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/hostsignals"
)

// readHost reads the tree with the edge's own host reader and returns
// series → value.
func readHost(t *testing.T, root string) map[string]string {
	t.Helper()
	r := &hostsignals.Reader{Root: root, Now: func() time.Time { return t0 }}
	ss, err := r.Read()
	if err != nil {
		t.Fatalf("hostsignals: %v", err)
	}
	out := map[string]string{}
	for _, s := range ss {
		out[s.Series()] = s.Value.String()
	}
	return out
}

// A host-mode edge reading the node's sysfs root sees what the model says:
// temperatures and limit from coretemp, the frequency, and the Intel
// throttle counters growing once the node throttles.
func TestSysfsRoundTrip(t *testing.T) {
	t.Parallel()
	clk := testrig.NewClock(t0)
	root := t.TempDir()
	n, err := New(&Opts{Now: clk.Now, SysfsRoot: root, Params: Params{CPUs: 2}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		`temperature_celsius{sensor="coretemp Package id 0"}`:      "37",
		`temperature_celsius{sensor="coretemp Core 1"}`:            "37",
		`temperature_crit_celsius{sensor="coretemp Package id 0"}`: "100",
		`cpu_frequency_hertz{cpu="0"}`:                             "2.4e+09",
		`cpu_throttle_count_total{core="0",package="0"}`:           "0",
		`cpu_throttle_count_total{core="package",package="0"}`:     "0",
	}
	check := func(got map[string]string) {
		t.Helper()
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %q, want %q", k, got[k], v)
			}
		}
		for k := range got {
			if strings.Contains(k, "inferred") {
				t.Errorf("%s: the counters exist, nothing should be inferred", k)
			}
		}
	}
	check(readHost(t, root))

	m := n.Model()
	m.SetBackgroundLoad(clk.Now(), 1)
	m.SetInlet(clk.Now(), 45)
	m.SetCooling(clk.Now(), 0.3)
	clk.Add(time.Minute)
	if err := n.WriteSysfs(); err != nil {
		t.Fatal(err)
	}
	st := m.State(clk.Now())
	if !st.Throttled || st.Throttles == 0 {
		t.Fatalf("model not throttling: %+v", st)
	}
	got := readHost(t, root)
	want = map[string]string{
		`cpu_frequency_hertz{cpu="1"}`:                         "1.2e+09",
		`cpu_throttle_count_total{core="1",package="0"}`:       strconv.FormatUint(st.Throttles, 10),
		`cpu_throttle_count_total{core="package",package="0"}`: strconv.FormatUint(st.Throttles, 10),
	}
	check(got)

	// Only the attributes are left behind: no temporary files.
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".") && !d.IsDir() {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}

// A started node keeps its tree current on its own.
func TestSysfsKeptCurrent(t *testing.T) {
	t.Parallel()
	clk := testrig.NewClock(t0)
	root := t.TempDir()
	n := startNode(t, Opts{Now: clk.Now, SysfsRoot: root, SysfsEvery: 10 * time.Millisecond, Params: Params{CPUs: 1}})
	m := n.Model()
	m.SetBackgroundLoad(clk.Now(), 1)
	m.SetHeat(clk.Now(), 400)
	clk.Add(time.Minute)
	deadline := time.Now().Add(5 * time.Second)
	for readHost(t, root)[`cpu_frequency_hertz{cpu="0"}`] != "1.2e+09" {
		if time.Now().After(deadline) {
			t.Fatalf("sysfs not rewritten: %v", readHost(t, root))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSysfsErrors(t *testing.T) {
	t.Parallel()
	if _, err := NewSysfs("", 1); err == nil {
		t.Error("empty root accepted")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(&Opts{SysfsRoot: file}); err == nil {
		t.Error("a root under a regular file accepted")
	}
}
