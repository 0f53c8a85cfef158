package edgenode

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/agent"
	"github.com/rackwatch/rackwatch/edge/config"
	"github.com/rackwatch/rackwatch/edge/configfile"
	"github.com/rackwatch/rackwatch/edge/sample"
	"github.com/rackwatch/rackwatch/edge/snmppoll"
)

func TestRestartKeys(t *testing.T) {
	load := func(body string) *config.Config {
		c := config.Default()
		f, err := configfile.Decode("edge.yaml", []byte("version: 1\nedge: {node: rack1, state_dir: /tmp/x}\nsnmp_security: {allow_community: true}\n"+body), config.Versions, &c)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(f); err != nil {
			t.Fatal(err)
		}
		return &c
	}
	base := load("host: {enabled: true, agent_check: '127.0.0.1:5555'}\nlog: {level: info}\n")
	for _, tc := range []struct {
		name      string
		body      string
		liveLevel bool
		want      []string
	}{
		{"nothing", "host: {enabled: true, agent_check: '127.0.0.1:5555'}\nlog: {level: info}\n", false, nil},
		{"sources and targets apply live", "host: {enabled: true, agent_check: '127.0.0.1:5555', period: 1s}\nsnmp: [{name: t, address: 127.0.0.1, profiles: [if-mib]}]\nsources: {max_concurrent: 2}\n", false, nil},
		{"broker, qos and spool", "mqtt: {broker: 'tcp://10.0.0.1:1883', qos: 0}\nspool: {max_mb: 8}\nhost: {enabled: true, agent_check: '127.0.0.1:5555'}\n", false,
			[]string{"mqtt.broker", "mqtt.qos", "spool.max_mb"}},
		{"agent check", "host: {enabled: true, agent_check: '127.0.0.1:6666'}\n", false, []string{"host.agent_check"}},
		{"host mode off stops the responder", "host: {enabled: false, agent_check: '127.0.0.1:5555'}\n", false, []string{"host.agent_check"}},
		{"log level without a level variable", "host: {enabled: true, agent_check: '127.0.0.1:5555'}\nlog: {level: debug}\n", false, []string{"log.level"}},
		{"log level set live", "host: {enabled: true, agent_check: '127.0.0.1:5555'}\nlog: {level: debug}\n", true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := restartKeys(base, load(tc.body), tc.liveLevel); !slices.Equal(got, tc.want) {
				t.Errorf("restartKeys = %q, want %q", got, tc.want)
			}
		})
	}
	renamed := load("host: {enabled: true, agent_check: '127.0.0.1:5555'}\n")
	renamed.Edge.Node, renamed.MQTT.ClientID = "rack2", "rackwatch-edge-rack2"
	if got := restartKeys(base, renamed, true); !slices.Equal(got, []string{"edge.node", "mqtt.client_id"}) {
		t.Errorf("renamed node: %q", got)
	}
}

// TestReloadRebuildsOnlyWhatChanged runs a node on an emulated bus and a
// real SNMP agent, reloads it, and checks that unchanged sources kept
// running as the same instances while changed ones were closed and rebuilt.
func TestReloadRebuildsOnlyWhatChanged(t *testing.T) {
	broker := testrig.StartMosquitto(t, nil)
	snmpd := testrig.StartSnmpd(t, testrig.SnmpdOpts{})
	// A target that never answers: its polls are cancelled at their
	// deadline, and its breaker opens.
	dead, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	w := watch(t, broker.URL)
	dir := t.TempDir()
	head := fmt.Sprintf("version: 1\nedge: {node: rack1, state_dir: %s}\nmqtt: {broker: %s, primary_host: \"\"}\n", dir, broker.URL)
	before := head + fmt.Sprintf(`i2c:
  - bus: emulated
    sensors:
      - {name: inlet, chip: tmp102, address: 0x48, period: 100ms}
      - {name: outlet, chip: tmp102, address: 0x49, period: 100ms}
snmp:
  - {name: tor1, address: %[1]q, profiles: [if-mib], period: 300ms, allow_community: true}
  - {name: tor2, address: %[1]q, profiles: [if-mib], period: 300ms, allow_community: true}
  - {name: tor3, address: %[1]q, profiles: [if-mib], period: 300ms, allow_community: true}
  - {name: dead, address: %[2]q, profiles: [if-mib], period: 200ms, timeout: 5s, allow_community: true}
`, snmpd.Addr, dead.LocalAddr().String())
	cfg, path := writeConfig(t, dir, before)
	logs := &testrig.Buffer{}
	n := runNode(t, cfg, Opts{Logger: slog.New(slog.NewTextHandler(logs, nil)), ClockSynced: func() bool { return true }})

	stats := func(device string) agent.SourceStats {
		for _, st := range n.Scheduler.Stats() {
			if st.Device == device {
				return st
			}
		}
		return agent.SourceStats{}
	}
	waitFor(t, 20*time.Second, "every source to collect", func() bool {
		for _, d := range []string{"inlet", "outlet", "tor1", "tor2", "tor3"} {
			if st := stats(d); !st.Up || st.Collects < 2 {
				return false
			}
		}
		return stats("dead").BreakerOpen
	})
	if st := stats("dead"); st.Duration > time.Second || st.Failures < 3 {
		t.Errorf("dead target %+v: its polls should be cut at the 200ms deadline, not the 5s timeout", st)
	}
	src := map[string]agent.Source{}
	for _, d := range []string{"inlet", "outlet", "tor1", "tor2", "tor3", "dead"} {
		s, ok := n.Source(d)
		if !ok {
			t.Fatalf("no source %s", d)
		}
		src[d] = s
	}
	inletModel, _ := n.Emulated("inlet")
	tor1Collects := stats("tor1").Collects

	// An invalid file changes nothing, and says where it is wrong.
	rewrite := func(body string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rewrite(before + "sources:\n  max_concurent: 4\n")
	err = n.ReloadFile(t.Context(), path)
	var ce *configfile.Error
	if !errors.As(err, &ce) || ce.Line != 15 || ce.Key != "sources.max_concurent" {
		t.Fatalf("invalid reload: %v; want the file, line 15 and the key", err)
	}
	if !strings.Contains(logs.String(), `edge.yaml:15: sources.max_concurent: unknown key`) {
		t.Errorf("the error is not logged with file, line and key:\n%s", logs.String())
	}
	if s, _ := n.Source("tor2"); s != src["tor2"] {
		t.Fatal("an invalid configuration replaced a source")
	}

	after := strings.Replace(head, "primary_host", "keepalive: 20s, primary_host", 1) + fmt.Sprintf(`i2c:
  - bus: emulated
    sensors:
      - {name: inlet, chip: tmp102, address: 0x48, period: 100ms}
      - {name: outlet, chip: tmp102, address: 0x49, period: 150ms}
      - {name: psu, chip: tmp102, address: 0x4a, period: 100ms}
snmp:
  - {name: tor1, address: %[1]q, profiles: [if-mib], period: 300ms, allow_community: true}
  - {name: tor2, address: %[1]q, profiles: [if-mib], period: 400ms, allow_community: true}
  - {name: dead, address: %[2]q, profiles: [if-mib], period: 200ms, timeout: 5s, allow_community: true}
sources: {max_concurrent: 4}
`, snmpd.Addr, dead.LocalAddr().String())
	rewrite(after)
	cfgAfter, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := n.Reload(t.Context(), cfgAfter)
	if err != nil {
		t.Fatal(err)
	}
	want := agent.Plan{Keep: []string{"inlet", "tor1", "dead"}, Restart: []string{"outlet", "tor2"}, Remove: []string{"tor3"}, Add: []string{"psu"}}
	if !reflect.DeepEqual(res.Plan, want) {
		t.Errorf("plan %+v, want %+v", res.Plan, want)
	}
	if !slices.Equal(res.NeedRestart, []string{"mqtt.keepalive"}) {
		t.Errorf("NeedRestart = %q, want mqtt.keepalive", res.NeedRestart)
	}
	if !strings.Contains(logs.String(), "mqtt.keepalive") {
		t.Error("the key that needs a restart is not logged")
	}

	// Unchanged: the same instances, still open, their counts going on.
	for _, d := range want.Keep {
		if s, _ := n.Source(d); s != src[d] {
			t.Errorf("%s was rebuilt although its configuration did not change", d)
		}
	}
	if st := stats("tor1"); st.Collects < tor1Collects {
		t.Errorf("tor1's collect count went from %d to %d: restarted", tor1Collects, st.Collects)
	}
	if _, err := src["tor1"].(*agent.SNMPSource).Poller.Poll(t.Context()); err != nil {
		t.Errorf("the kept tor1 poller: %v", err)
	}
	if m, _ := n.Emulated("inlet"); m != inletModel {
		t.Error("inlet's emulated chip was replaced")
	}
	if !stats("dead").BreakerOpen {
		t.Error("the kept dead target's breaker was reset")
	}
	// Changed and removed: closed; changed ones rebuilt.
	for _, d := range []string{"tor2", "tor3"} {
		if _, err := src[d].(*agent.SNMPSource).Poller.Poll(t.Context()); !errors.Is(err, snmppoll.ErrClosed) {
			t.Errorf("the old %s poller was not closed: %v", d, err)
		}
	}
	for _, d := range want.Restart {
		if s, ok := n.Source(d); !ok || s == src[d] {
			t.Errorf("%s was not rebuilt", d)
		}
	}
	if s, _ := n.Source("outlet"); s.Period() != 150*time.Millisecond {
		t.Errorf("rebuilt outlet runs at %v", s.Period())
	}
	if _, ok := n.Source("tor3"); ok {
		t.Error("tor3 still runs")
	}
	for _, st := range n.Scheduler.Stats() {
		if st.Device == "tor3" {
			t.Error("tor3 still scheduled")
		}
	}
	if p := n.Scheduler.Policy(); p.MaxConcurrent != 4 {
		t.Errorf("sources.max_concurrent not applied: %+v", p)
	}
	// The changed and the new sources publish; the kept ones go on.
	counts := map[string]int{}
	for _, d := range []string{"inlet", "outlet", "psu", "tor1", "tor2"} {
		counts[d] = w.count(d)
	}
	waitFor(t, 15*time.Second, "every source to publish after the reload", func() bool {
		for d, c := range counts {
			if w.count(d) < c+2 {
				return false
			}
		}
		return true
	})
	if _, ok := w.find("psu", sample.TemperatureCelsius, "sensor", "psu"); !ok {
		t.Error("the new sensor publishes no temperature")
	}
	waitFor(t, 15*time.Second, "the status device to report the sources", func() bool {
		up, ok := w.find(StatusDevice, EdgeSourceUp, "source", "tor1")
		open, ok2 := w.find(StatusDevice, EdgeSourceBreakerOpen, "source", "dead")
		return ok && up.Value.Bool() && ok2 && open.Value.Bool()
	})
	if d, ok := w.find(StatusDevice, EdgeSourceDuration, "source", "dead"); !ok || d.Value.Float() <= 0 || d.Value.Float() > 1 {
		t.Errorf("dead target's collect duration %v", d.Value)
	}
}
