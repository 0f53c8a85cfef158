package service

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/rackwatch/rackwatch/edge/sample"
)

// TestMetricsFollowTheLoop runs the service until it sheds a node and
// checks what a scrape of /metrics, served by the API, says about it.
func TestMetricsFollowTheLoop(t *testing.T) {
	lb := upServers(true)
	svc := newTestService(t, loadTestConfig(t, strings.Replace(cfgText, `api: {listen: ""}`, `api: {listen: "127.0.0.1:0"}`, 1)), lb)
	running := false
	// scrape reads /metrics through the API's handler, or once the
	// service runs, from its listener.
	scrape := func() map[string]float64 {
		t.Helper()
		var body string
		if running {
			resp, err := http.Get("http://" + svc.API().Addr() + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /metrics: %v %s %s", err, resp.Status, b)
			}
			body = string(b)
		} else {
			rec := httptest.NewRecorder()
			svc.API().Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
			}
			body = rec.Body.String()
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(strings.NewReader(body))
		if err != nil {
			t.Fatalf("the scrape does not parse: %v", err)
		}
		if bin, err := exec.LookPath("promtool"); err == nil {
			cmd := exec.Command(bin, "check", "metrics")
			cmd.Stdin = strings.NewReader(body)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("promtool check metrics: %v\n%s", err, out)
			}
		}
		// Flatten to name{label="value",...} → value, labels sorted.
		out := map[string]float64{}
		for name, f := range fams {
			for _, m := range f.GetMetric() {
				var ls []string
				for _, l := range m.GetLabel() {
					ls = append(ls, l.GetName()+"="+strconv.Quote(l.GetValue()))
				}
				key := name
				if len(ls) > 0 {
					key += "{" + strings.Join(ls, ",") + "}"
				}
				switch {
				case m.Counter != nil:
					out[key] = m.GetCounter().GetValue()
				case m.Gauge != nil:
					out[key] = m.GetGauge().GetValue()
				case m.Untyped != nil:
					out[key] = m.GetUntyped().GetValue()
				}
			}
		}
		return out
	}
	before := scrape()
	for _, n := range []string{"n1", "n2", "n3"} {
		if v := before[`rackwatch_node_state{node="`+n+`",rack="",state="no_data"}`]; v != 1 {
			t.Errorf("%s before any sample: no_data = %v, want 1", n, v)
		}
	}
	if v, ok := before["rackwatch_collector_max_actions_per_hour"]; !ok || v <= 0 {
		t.Errorf("max_actions_per_hour = %v, %t", v, ok)
	}

	runService(t, svc)
	select {
	case <-svc.API().Listening():
		running = true
	case <-time.After(5 * time.Second):
		t.Fatal("the API is not listening")
	}
	feed := func(c ...float64) {
		for i, v := range c {
			svc.Store().Add("rack1", "b"+strconv.Itoa(i+1), []sample.Sample{{Metric: sample.TemperatureCelsius,
				Labels: sample.L("sensor", "CPU"), Value: sample.Float(v), TS: time.Now()}})
		}
	}
	var got map[string]float64
	for deadline := time.Now().Add(10 * time.Second); ; {
		feed(40, 90, 40)
		time.Sleep(50 * time.Millisecond)
		got = scrape()
		if got[`rackwatch_node_state{node="n2",rack="",state="shed"}`] == 1 && got[`rackwatch_node_weight_ratio{backend="api",haproxy="lb1",node="n2",server="s2"}`] == 0.5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("n2 never shown shed at weight 0.5:\n%v", got)
		}
	}
	for key, want := range map[string]float64{
		`rackwatch_node_state{node="n1",rack="",state="ok"}`:                             1,
		`rackwatch_node_state{node="n1",rack="",state="no_data"}`:                        0,
		`rackwatch_node_state{node="n2",rack="",state="ok"}`:                             0,
		`rackwatch_collector_decisions_total{action="shed",outcome="taken"}`:             1,
		`rackwatch_collector_actions_last_hour`:                                          1,
		`rackwatch_collector_haproxy_up{haproxy="lb1"}`:                                  1,
		`rackwatch_collector_actuator_applied_total{actuator="haproxy"}`:                 1,
		`rackwatch_node_weight_ratio{backend="api",haproxy="lb1",node="n1",server="s1"}`: 1,
		`rackwatch_collector_global_stop`:                                                0,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %t), want %v", key, v, ok, want)
		}
	}
	if got["rackwatch_node_state_since_timestamp_seconds{node=\"n2\",rack=\"\"}"] <= 0 {
		t.Errorf("no time for n2's shed")
	}
	if got["rackwatch_collector_decision_passes_total"] == 0 || got[`rackwatch_collector_haproxy_polls_total{haproxy="lb1"}`] == 0 {
		t.Errorf("passes or polls not counted")
	}
	if _, ok := got["go_goroutines"]; !ok {
		t.Errorf("the Go collector is not registered")
	}
}

// TestMetricsExposeConfiguredOutputs: the SNMP notification targets and
// the InfluxDB sink appear once configured, with zeros before any traffic.
func TestMetricsExposeConfiguredOutputs(t *testing.T) {
	text := strings.Replace(cfgText, `api: {listen: ""}`, `api: {listen: "127.0.0.1:0"}`, 1)
	text += "snmp_notify:\n  targets: [{name: nms1, address: '127.0.0.1:1162', version: v2c, community: public}]\n"
	text += "influxdb: {url: 'http://127.0.0.1:1', database: rackwatch}\n"
	svc := newTestService(t, loadTestConfig(t, text), &fakeRuntime{})
	defer func() {
		// Run with an ended context stops what New started (the sinks'
		// goroutines).
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		svc.Run(ctx)
	}()
	rec := httptest.NewRecorder()
	svc.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, want := range []string{
		`rackwatch_collector_notifications_sent_total{target="nms1"} 0`,
		`rackwatch_collector_notifications_queued{target="nms1"} 0`,
		`rackwatch_collector_sink_write_errors_total{sink="influxdb"} 0`,
		`rackwatch_collector_sink_dropped_total{sink="influxdb"} 0`,
	} {
		if !strings.Contains(rec.Body.String(), want+"\n") {
			t.Errorf("no %s in the scrape", want)
		}
	}
}
