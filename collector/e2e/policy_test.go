package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// acted returns the shed and drain decisions taken so far.
func (l *loop) acted() []string {
	var out []string
	for _, d := range l.decisions() {
		if (strings.Contains(d, "action=shed") || strings.Contains(d, "action=drain")) && strings.Contains(d, "taken=true") {
			out = append(out, d)
		}
	}
	return out
}

func (l *loop) api(t *testing.T, method, path string, body any, out any) int {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, "http://"+l.apiAddr+path, rd)
	if method != http.MethodGet {
		req.Header.Set("Authorization", "Bearer "+l.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

type nodesView struct {
	Nodes []struct {
		Name string `json:"name"`
		Pin  *struct {
			By string `json:"by"`
		} `json:"pin"`
		Entries []struct {
			Level    string `json:"level"`
			Observed struct {
				Status string `json:"status"`
			} `json:"observed"`
		} `json:"entries"`
	} `json:"nodes"`
}

func (l *loop) level(t *testing.T, node string) string {
	var v nodesView
	if code := l.api(t, http.MethodGet, "/api/v1/nodes", nil, &v); code != http.StatusOK {
		t.Fatalf("GET /api/v1/nodes: %d", code)
	}
	for _, n := range v.Nodes {
		if n.Name == node && len(n.Entries) > 0 {
			return n.Entries[0].Level
		}
	}
	return ""
}

// TestOnlyAttributedCausesAct: a warm node below its limits with normal
// latency, and a slow node with no physical evidence, are both left alone.
func TestOnlyAttributedCausesAct(t *testing.T) {
	l := newLoop(t)
	l.bmcs[0].setTemp(t, 75) // warm, below hot (80)
	l.nodes[1].delay.Store(int64(40 * time.Millisecond))
	time.Sleep(8 * time.Second)
	if a := l.acted(); len(a) > 0 {
		t.Errorf("acted without attribution: %v", a)
	}
	for _, n := range []string{"node1", "node2"} {
		if lv := l.level(t, n); lv != "full" {
			t.Errorf("%s is at level %q", n, lv)
		}
	}
}

// TestRackWideHeatRaisesOneAlarm: the whole rack heats up at once; that is
// a cooling problem: one alarm, and no node is drained.
func TestRackWideHeatRaisesOneAlarm(t *testing.T) {
	l := newLoop(t)
	for _, b := range l.bmcs {
		b.setTemp(t, 88)
	}
	time.Sleep(8 * time.Second)
	var alarms []string
	for _, d := range l.decisions() {
		if strings.Contains(d, "alarm=rack_cooling") {
			alarms = append(alarms, d)
		}
	}
	if len(alarms) != 1 || !strings.Contains(alarms[0], "alarm_active=true") {
		t.Errorf("rack alarms: %v", alarms)
	}
	if a := l.acted(); len(a) > 0 {
		t.Errorf("drained or shed during a rack-wide event: %v", a)
	}
}

// TestReloadAndRestartKeepTheDrain: a drain survives an HAProxy reload (the
// reconciler re-applies it) and a collector restart (the state file), and
// the API and the MQTT event topic tell what happened.
func TestReloadAndRestartKeepTheDrain(t *testing.T) {
	l := newLoop(t)
	events := make(chan []byte, 64)
	sub := paho.NewClient(paho.NewClientOptions().AddBroker(l.brokerURL).SetClientID("nms"))
	if tok := sub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer sub.Disconnect(100)
	sub.Subscribe("rackwatch/events/rackwatch-collector/decisions", 1, func(_ paho.Client, m paho.Message) { events <- m.Payload() }).Wait()

	l.bmcs[1].setTemp(t, 92)
	l.nodes[1].delay.Store(int64(40 * time.Millisecond))
	waitStatus(t, l.lb, "s2", "DRAIN", 30*time.Second)
	if lv := l.level(t, "node2"); lv != "drained" {
		t.Errorf("API level of node2 = %q", lv)
	}
	got := map[string]bool{}
	for timeout := time.After(5 * time.Second); !got["drain"]; {
		select {
		case b := <-events:
			var rec struct {
				Action   string            `json:"action"`
				Node     string            `json:"node"`
				Evidence []json.RawMessage `json:"evidence"`
			}
			json.Unmarshal(b, &rec)
			if rec.Node == "node2" && len(rec.Evidence) > 0 {
				got[rec.Action] = true
			}
		case <-timeout:
			t.Fatalf("no drain event with evidence on the MQTT event topic (got %v)", got)
		}
	}
	// An operator pins node3 through the API; the audit names them.
	if code := l.api(t, http.MethodPut, "/api/v1/nodes/node3/pin", map[string]string{"reason": "maintenance window"}, nil); code != http.StatusOK {
		t.Fatalf("pin: %d", code)
	}
	if !eventuallyContains(l.collector, "actor=ops") {
		t.Error("the pin's audit record does not name the caller")
	}
	if code := l.api(t, http.MethodPut, "/api/v1/stop", map[string]bool{"on": true}, nil); code != http.StatusOK {
		t.Fatalf("stop: %d", code)
	}
	l.api(t, http.MethodPut, "/api/v1/stop", map[string]bool{"on": false}, nil)

	// HAProxy reloads and forgets the drain: the collector puts it back.
	l.lbProc.Restart(t)
	waitStatus(t, l.lb, "s2", "DRAIN", 15*time.Second)

	// The collector restarts: the drain is neither forgotten nor flapped.
	l.collector.cmd.Process.Signal(syscall.SIGTERM)
	l.collector.cmd.Wait()
	l.collector = start(t, "rackwatch-collector", "-config", l.collCfg)
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if st, ok := serverStatus(t, l.lb, "s2"); ok && !strings.HasPrefix(st.Status, "DRAIN") {
			t.Fatalf("after the collector restart s2 is %q", st.Status)
		}
	}
	if !strings.Contains(l.collector.output(), "restored the desired state") {
		t.Error("the restarted collector did not restore its state")
	}
	// Cooled: the restarted collector restores it.
	l.bmcs[1].setTemp(t, 50)
	l.nodes[1].delay.Store(0)
	waitStatus(t, l.lb, "s2", "UP", 30*time.Second)
	fmt.Fprintln(testWriter{t}, strings.Join(l.decisions(), "\n"))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }
