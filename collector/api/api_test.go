package api_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/api"
	"github.com/rackwatch/rackwatch/collector/audit"
	"github.com/rackwatch/rackwatch/collector/decide"
	goldenfile "github.com/rackwatch/rackwatch/deploy/testrig/golden"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 123456789, time.UTC)

const (
	aliceToken = "alice-0123456789abcdef"
	bobToken   = "bob-fedcba9876543210"
)

var tokens = api.Tokens{"alice": aliceToken, "bob": bobToken}

// fakeController is the collector as the API sees it: a real engine for
// pins and switches, and a real recorder for the history, over a fixed
// inventory.
type fakeController struct {
	mu      sync.Mutex
	engine  *decide.Engine
	rec     *audit.Recorder
	nodes   []api.Node
	filters []audit.Filter
	ready   bool
	reasons []string
	err     error // returned by Pin and Unpin when set
}

func newFake(t *testing.T) *fakeController {
	t.Helper()
	e, err := decide.New(decide.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := audit.New(audit.Opts{Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	return &fakeController{engine: e, rec: rec, nodes: inventory(), ready: true}
}

func inventory() []api.Node {
	return []api.Node{
		{Name: "api-2", Rack: "r1", Entries: []api.Entry{{
			LB: "edge-lb", Backend: "api", Server: "api-2", Level: "full", Desired: "ready 100%",
			Observed: api.Observed{Known: true, Status: "up", WeightPct: 100, At: audit.Time{Time: t0}},
			// Evidence left nil: the API writes [].
		}}},
		{Name: "api-1", Rack: "r1", Pin: api.PinOf(decide.Pin{By: "alice", Reason: "firmware update", At: t0.Add(-time.Hour)}),
			Entries: []api.Entry{
				{LB: "edge-lb", Backend: "api", Server: "api-1", Level: audit.LevelName(decide.Shed), Desired: decide.Shed.Desired().String(),
					Observed: api.Observed{Known: true, Status: audit.StatusName(decide.StatusUp), WeightPct: 50, At: audit.Time{Time: t0}},
					Evidence: audit.EvidenceOf([]decide.Evidence{
						{Signal: "cpu_temperature", Value: 93.5, Threshold: 90, Unit: "°C", Firing: true, Since: t0.Add(-3 * time.Minute)},
						{Signal: "latency_vs_peers", Value: 182.25, Threshold: 120, Unit: "ms", Firing: true, Since: t0.Add(-2 * time.Minute)},
					}),
					FirstFired: "cpu_temperature", EvidenceAt: audit.Time{Time: t0}},
				{LB: "edge-lb-2", Backend: "api", Server: "api-1", Level: "shed", Desired: "ready 50%",
					Observed: api.Observed{Known: false, Status: "unknown"}},
			}},
		{Name: "db-1"}, // no load balancer: Entries nil, written as []
	}
}

func (f *fakeController) known(node string) bool {
	return slices.ContainsFunc(f.nodes, func(n api.Node) bool { return n.Name == node })
}

func (f *fakeController) Nodes() []api.Node {
	f.mu.Lock()
	defer f.mu.Unlock()
	pins := f.engine.Pins()
	out := slices.Clone(f.nodes)
	for i := range out {
		out[i].Pin = nil
		if p, ok := pins[out[i].Name]; ok {
			out[i].Pin = api.PinOf(p)
		} else if f.nodes[i].Pin != nil {
			out[i].Pin = f.nodes[i].Pin
		}
	}
	return out
}

func (f *fakeController) Decisions(flt audit.Filter) []decide.Decision {
	f.mu.Lock()
	f.filters = append(f.filters, flt)
	f.mu.Unlock()
	return f.rec.Decisions(flt)
}

func (f *fakeController) Pin(node, by, reason string) (decide.Decision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return decide.Decision{}, f.err
	}
	if !f.known(node) {
		return decide.Decision{}, api.ErrUnknownNode
	}
	d := f.engine.SetPin(node, true, by, reason, t0)
	f.rec.Record(d)
	return d, nil
}

func (f *fakeController) Unpin(node, by string) (decide.Decision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return decide.Decision{}, f.err
	}
	if !f.known(node) {
		return decide.Decision{}, api.ErrUnknownNode
	}
	d := f.engine.SetPin(node, false, by, "", t0)
	f.rec.Record(d)
	return d, nil
}

func (f *fakeController) SetStop(on bool, by string) decide.Decision {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.engine.SetStop(on, by, t0)
	f.rec.Record(d)
	return d
}

func (f *fakeController) SetDryRun(on bool, by string) decide.Decision {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.engine.SetDryRun(on, by, t0)
	f.rec.Record(d)
	return d
}

func (f *fakeController) Switches() api.Switches {
	f.mu.Lock()
	defer f.mu.Unlock()
	return api.Switches{Stop: f.engine.Stopped(), DryRun: f.engine.DryRun()}
}

func (f *fakeController) Ready() (bool, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ready, f.reasons
}

type harness struct {
	ctl *fakeController
	srv *api.Server
	log *bytes.Buffer
}

func newHarness(t *testing.T, toks api.Tokens) *harness {
	t.Helper()
	h := &harness{ctl: newFake(t), log: &bytes.Buffer{}}
	var err error
	h.srv, err = api.New(api.Opts{Controller: h.ctl, Tokens: toks, Logger: slog.New(slog.NewTextHandler(h.log, nil)),
		Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

func (r response) errorText(t *testing.T) string {
	t.Helper()
	msg, ok := r.json(t)["error"].(string)
	if !ok {
		t.Fatalf("no error in %s", r.body)
	}
	return msg
}

// do sends a request; token "" sends no Authorization header.
func (h *harness) do(t *testing.T, method, target, token, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(w, req)
	return response{w.Code, w.Header(), w.Body.Bytes()}
}

func TestHealthz(t *testing.T) {
	h := newHarness(t, tokens)
	r := h.do(t, "GET", "/healthz", "", "")
	if r.status != 200 || string(r.body) != "ok\n" {
		t.Errorf("GET /healthz = %d %q", r.status, r.body)
	}
	h.ctl.ready = false // liveness does not depend on readiness
	if r := h.do(t, "GET", "/healthz", "", ""); r.status != 200 {
		t.Errorf("GET /healthz while not ready = %d", r.status)
	}
	r = h.do(t, "POST", "/healthz", "", "")
	if r.status != 405 || r.header.Get("Allow") != "GET, HEAD" || !strings.Contains(r.errorText(t), "POST") {
		t.Errorf("POST /healthz = %d Allow %q %s", r.status, r.header.Get("Allow"), r.body)
	}
}

func TestReadyz(t *testing.T) {
	h := newHarness(t, tokens)
	r := h.do(t, "GET", "/readyz", "", "")
	if r.status != 200 || strings.Join(strings.Fields(string(r.body)), "") != `{"ready":true,"reasons":[]}` {
		t.Errorf("ready: %d %s", r.status, r.body)
	}
	h.ctl.ready, h.ctl.reasons = false, []string{"mqtt: not connected", "no load balancer read yet"}
	r = h.do(t, "GET", "/readyz", "", "")
	var body struct {
		Ready   bool
		Reasons []string
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	if r.status != 503 || body.Ready || len(body.Reasons) != 2 || body.Reasons[0] != "mqtt: not connected" {
		t.Errorf("not ready: %d %s", r.status, r.body)
	}
}

func TestNodesGolden(t *testing.T) {
	h := newHarness(t, tokens)
	r := h.do(t, "GET", "/api/v1/nodes", "", "")
	if r.status != 200 || r.header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("GET /api/v1/nodes = %d %q", r.status, r.header.Get("Content-Type"))
	}
	goldenfile.Check(t, "nodes.golden.json", r.body)
}

func TestNode(t *testing.T) {
	h := newHarness(t, tokens)
	r := h.do(t, "GET", "/api/v1/nodes/api-1", "", "")
	if r.status != 200 || r.json(t)["name"] != "api-1" {
		t.Errorf("GET api-1 = %d %s", r.status, r.body)
	}
	r = h.do(t, "GET", "/api/v1/nodes/nope", "", "")
	if r.status != 404 || r.errorText(t) != `unknown node "nope"` {
		t.Errorf("GET nope = %d %s", r.status, r.body)
	}
}

func TestUnknownEndpoint(t *testing.T) {
	h := newHarness(t, tokens)
	r := h.do(t, "GET", "/api/v2/nodes", "", "")
	if r.status != 404 || !strings.Contains(r.errorText(t), "/api/v2/nodes") {
		t.Errorf("GET /api/v2/nodes = %d %s", r.status, r.body)
	}
	r = h.do(t, "POST", "/api/v1/nodes/api-1/pin", aliceToken, `{"reason":"x"}`)
	if r.status != 405 || r.header.Get("Allow") != "DELETE, PUT" {
		t.Errorf("POST pin = %d Allow %q", r.status, r.header.Get("Allow"))
	}
}

func TestAuth(t *testing.T) {
	tests := []struct {
		name, method, target, auth, body string
		want                             int
		wantErr                          string
	}{
		{"pin without token", "PUT", "/api/v1/nodes/api-1/pin", "", `{"reason":"x"}`, 401, "needs a token"},
		{"pin with wrong token", "PUT", "/api/v1/nodes/api-1/pin", "Bearer " + aliceToken + "x", `{"reason":"x"}`, 401, "invalid token"},
		{"pin with basic auth", "PUT", "/api/v1/nodes/api-1/pin", "Basic YWxpY2U6eA==", `{"reason":"x"}`, 401, "needs a token"},
		{"pin with empty bearer", "PUT", "/api/v1/nodes/api-1/pin", "Bearer ", `{"reason":"x"}`, 401, "needs a token"},
		{"unpin without token", "DELETE", "/api/v1/nodes/api-1/pin", "", "", 401, "needs a token"},
		{"stop without token", "PUT", "/api/v1/stop", "", `{"on":true}`, 401, "needs a token"},
		{"dry-run with wrong token", "PUT", "/api/v1/dry-run", "Bearer nope-nope-nope-nope", `{"on":true}`, 401, "invalid token"},
		// Authentication comes first: an anonymous caller learns nothing
		// about which nodes exist or what a body should hold.
		{"unknown node without token", "PUT", "/api/v1/nodes/nope/pin", "", `{"reason":"x"}`, 401, "needs a token"},
		{"bad body without token", "PUT", "/api/v1/stop", "", `{`, 401, "needs a token"},
		{"scheme is case-insensitive", "PUT", "/api/v1/stop", "bearer " + bobToken, `{"on":false}`, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tokens)
			req := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			w := httptest.NewRecorder()
			h.srv.Handler().ServeHTTP(w, req)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, w.Body)
			}
			if tc.want != 401 {
				return
			}
			if !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("WWW-Authenticate = %q", w.Header().Get("WWW-Authenticate"))
			}
			r := response{w.Code, w.Header(), w.Body.Bytes()}
			if msg := r.errorText(t); !strings.Contains(msg, tc.wantErr) {
				t.Errorf("error %q, want it to mention %q", msg, tc.wantErr)
			}
			if got := h.ctl.rec.Counters().Recorded; got != 0 {
				t.Errorf("%d decisions recorded by an unauthorised call", got)
			}
			if strings.Contains(h.log.String(), aliceToken) || strings.Contains(h.log.String(), "nope-nope") {
				t.Errorf("the log holds what the caller sent:\n%s", h.log)
			}
			if !strings.Contains(h.log.String(), "change refused") {
				t.Errorf("refusal not logged:\n%s", h.log)
			}
		})
	}
}

func TestNoTokensRefusesChanges(t *testing.T) {
	h := newHarness(t, nil)
	if r := h.do(t, "PUT", "/api/v1/stop", "anything-at-all-0123", `{"on":true}`); r.status != 401 {
		t.Errorf("PUT stop with no tokens configured = %d", r.status)
	}
	if h.ctl.engine.Stopped() {
		t.Error("stop engaged without a token")
	}
}

func TestPinRecordsIdentity(t *testing.T) {
	h := newHarness(t, tokens)
	r := h.do(t, "PUT", "/api/v1/nodes/api-2/pin", bobToken, `{"reason": "  replacing a fan  "}`)
	if r.status != 200 {
		t.Fatalf("PUT pin = %d %s", r.status, r.body)
	}
	var rec audit.Record
	if err := json.Unmarshal(r.body, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Actor != "bob" || rec.Node != "api-2" || rec.Action != "pinned" || rec.Cause != "pinned by bob: replacing a fan" {
		t.Errorf("answer = %s", r.body)
	}
	pin := h.ctl.engine.Pins()["api-2"]
	if pin.By != "bob" || pin.Reason != "replacing a fan" {
		t.Errorf("engine pin = %+v", pin)
	}
	// The pin shows on the node, and the decision in the history.
	r = h.do(t, "GET", "/api/v1/nodes/api-2", "", "")
	if p, _ := r.json(t)["pin"].(map[string]any); p["by"] != "bob" || p["reason"] != "replacing a fan" || p["at"] != "2026-11-26T12:00:00.123Z" {
		t.Errorf("node after pin = %s", r.body)
	}
	r = h.do(t, "GET", "/api/v1/decisions?node=api-2", "", "")
	if ds, _ := r.json(t)["decisions"].([]any); len(ds) != 1 || ds[0].(map[string]any)["actor"] != "bob" {
		t.Errorf("decisions after pin = %s", r.body)
	}

	r = h.do(t, "DELETE", "/api/v1/nodes/api-2/pin", aliceToken, "")
	if r.status != 200 || !strings.Contains(string(r.body), `"actor": "alice"`) || !strings.Contains(string(r.body), "unpinned by alice") {
		t.Errorf("DELETE pin = %d %s", r.status, r.body)
	}
	if _, still := h.ctl.engine.Pins()["api-2"]; still {
		t.Error("still pinned")
	}
	if strings.Contains(h.log.String(), bobToken) || strings.Contains(h.log.String(), aliceToken) {
		t.Errorf("a token was logged:\n%s", h.log)
	}
	if !strings.Contains(h.log.String(), "actor=bob") {
		t.Errorf("the change was not logged with its actor:\n%s", h.log)
	}
}

func TestPinErrors(t *testing.T) {
	long := strings.Repeat("x", 1025)
	tests := []struct {
		name, method, target, body string
		want                       int
		wantErr                    string
	}{
		{"unknown node", "PUT", "/api/v1/nodes/nope/pin", `{"reason":"x"}`, 404, `unknown node "nope"`},
		{"unpin unknown node", "DELETE", "/api/v1/nodes/nope/pin", "", 404, `unknown node "nope"`},
		{"empty body", "PUT", "/api/v1/nodes/api-1/pin", "", 400, "empty"},
		{"syntax", "PUT", "/api/v1/nodes/api-1/pin", `{"reason": x}`, 400, "invalid JSON at byte"},
		{"truncated", "PUT", "/api/v1/nodes/api-1/pin", `{"reason": "x"`, 400, "truncated"},
		{"unknown field", "PUT", "/api/v1/nodes/api-1/pin", `{"reason":"x","until":"tomorrow"}`, 400, `unknown field "until"`},
		{"wrong type", "PUT", "/api/v1/nodes/api-1/pin", `{"reason": 42}`, 400, `field "reason": want a JSON string, not number`},
		{"not an object", "PUT", "/api/v1/nodes/api-1/pin", `"x"`, 400, "body:"},
		{"trailing data", "PUT", "/api/v1/nodes/api-1/pin", `{"reason":"x"} {"reason":"y"}`, 400, "unexpected data after"},
		{"no reason", "PUT", "/api/v1/nodes/api-1/pin", `{}`, 400, `"reason" is required`},
		{"blank reason", "PUT", "/api/v1/nodes/api-1/pin", `{"reason":"  "}`, 400, `"reason" is required`},
		{"newline in reason", "PUT", "/api/v1/nodes/api-1/pin", `{"reason":"a\nb"}`, 400, "control characters"},
		{"long reason", "PUT", "/api/v1/nodes/api-1/pin", `{"reason":"` + long + `"}`, 400, "longer than 1024"},
		{"huge body", "PUT", "/api/v1/nodes/api-1/pin", `{"reason":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tokens)
			r := h.do(t, tc.method, tc.target, aliceToken, tc.body)
			if r.status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.status, tc.want, r.body)
			}
			if msg := r.errorText(t); !strings.Contains(msg, tc.wantErr) {
				t.Errorf("error %q, want it to contain %q", msg, tc.wantErr)
			}
			if len(h.ctl.engine.Pins()) != 0 {
				t.Errorf("pinned despite the error: %v", h.ctl.engine.Pins())
			}
		})
	}
}

func TestControllerFailure(t *testing.T) {
	h := newHarness(t, tokens)
	h.ctl.err = errors.New("service: engine not running")
	r := h.do(t, "PUT", "/api/v1/nodes/api-1/pin", aliceToken, `{"reason":"x"}`)
	if r.status != 500 || r.errorText(t) != "service: engine not running" {
		t.Errorf("PUT pin = %d %s", r.status, r.body)
	}
}

func TestSwitches(t *testing.T) {
	for _, sw := range []struct {
		path, alarm string
		get         func(api.Switches) bool
	}{
		{"/api/v1/stop", "global_stop", func(s api.Switches) bool { return s.Stop }},
		{"/api/v1/dry-run", "dry_run", func(s api.Switches) bool { return s.DryRun }},
	} {
		t.Run(sw.path, func(t *testing.T) {
			h := newHarness(t, tokens)
			state := func() string { return strings.Join(strings.Fields(string(h.do(t, "GET", sw.path, "", "").body)), "") }
			if got := state(); got != `{"on":false}` {
				t.Errorf("GET = %s", got)
			}
			r := h.do(t, "PUT", sw.path, aliceToken, `{"on": true}`)
			var rec audit.Record
			if err := json.Unmarshal(r.body, &rec); err != nil {
				t.Fatal(err)
			}
			if r.status != 200 || rec.Alarm != sw.alarm || rec.AlarmActive == nil || !*rec.AlarmActive || rec.Actor != "alice" {
				t.Errorf("PUT on = %d %s", r.status, r.body)
			}
			if !sw.get(h.ctl.Switches()) || state() != `{"on":true}` {
				t.Errorf("switch not on; GET = %s", state())
			}
			r = h.do(t, "PUT", sw.path, bobToken, `{"on": false}`)
			if r.status != 200 || sw.get(h.ctl.Switches()) || !strings.Contains(string(r.body), `"actor": "bob"`) {
				t.Errorf("PUT off = %d %s", r.status, r.body)
			}
			for body, want := range map[string]string{
				`{}`:            `"on" is required`,
				`{"on":"yes"}`:  `field "on": want a JSON bool, not string`,
				`{"off":true}`:  `unknown field "off"`,
				`{"on":true}[]`: "unexpected data after",
			} {
				r := h.do(t, "PUT", sw.path, aliceToken, body)
				if r.status != 400 || !strings.Contains(r.errorText(t), want) {
					t.Errorf("PUT %s = %d %s, want 400 mentioning %q", body, r.status, r.body, want)
				}
			}
			if got := h.ctl.rec.Counters().Recorded; got != 2 {
				t.Errorf("%d decisions recorded, want 2", got)
			}
		})
	}
}

func TestDecisions(t *testing.T) {
	h := newHarness(t, tokens)
	for i, n := range []string{"api-1", "api-2", "api-1"} {
		h.ctl.rec.Record(decide.Decision{At: t0.Add(time.Duration(i-3) * time.Minute), Node: n, Action: decide.ActShed,
			From: decide.Full, To: decide.Shed, Desired: decide.Shed.Desired(), Taken: true, Actor: "engine", Cause: "c"})
	}
	h.ctl.rec.Record(decide.Decision{At: t0, Rack: "r1", Action: decide.ActAlarm, Alarm: decide.AlarmRackCooling, AlarmActive: true, Taken: true, Actor: "engine"})

	tests := []struct {
		query   string
		filter  audit.Filter
		wantLen int
	}{
		{"", audit.Filter{Limit: 100}, 4},
		{"?node=api-1", audit.Filter{Node: "api-1", Limit: 100}, 2},
		{"?limit=1", audit.Filter{Limit: 1}, 1},
		{"?since=2026-11-26T11:58:00.123456789Z", audit.Filter{Since: t0.Add(-2 * time.Minute), Limit: 100}, 3},
		{"?since=90s", audit.Filter{Since: t0.Add(-90 * time.Second), Limit: 100}, 2},
		{"?action=shed,alarm&action=drain", audit.Filter{Limit: 100, Actions: []decide.Action{"shed", "alarm", "drain"}}, 4},
		{"?action=alarm", audit.Filter{Limit: 100, Actions: []decide.Action{"alarm"}}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			r := h.do(t, "GET", "/api/v1/decisions"+tc.query, "", "")
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			var body struct{ Decisions []audit.Record }
			if err := json.Unmarshal(r.body, &body); err != nil {
				t.Fatal(err)
			}
			if len(body.Decisions) != tc.wantLen {
				t.Errorf("%d decisions, want %d: %s", len(body.Decisions), tc.wantLen, r.body)
			}
			for i := 1; i < len(body.Decisions); i++ {
				if body.Decisions[i].At.After(body.Decisions[i-1].At.Time) {
					t.Errorf("not newest first: %s", r.body)
				}
			}
			got := h.ctl.filters[len(h.ctl.filters)-1]
			if !got.Since.Equal(tc.filter.Since) || got.Node != tc.filter.Node || got.Limit != tc.filter.Limit || !slices.Equal(got.Actions, tc.filter.Actions) {
				t.Errorf("filter = %+v, want %+v", got, tc.filter)
			}
		})
	}
	t.Run("empty is an array", func(t *testing.T) {
		r := h.do(t, "GET", "/api/v1/decisions?node=none", "", "")
		if strings.Join(strings.Fields(string(r.body)), "") != `{"decisions":[]}` {
			t.Errorf("body = %s", r.body)
		}
	})
	for _, q := range []string{"since=yesterday", "since=-5m", "limit=0", "limit=10001", "limit=x", "action=explode"} {
		t.Run("bad "+q, func(t *testing.T) {
			r := h.do(t, "GET", "/api/v1/decisions?"+q, "", "")
			name, _, _ := strings.Cut(q, "=")
			if r.status != 400 || !strings.HasPrefix(r.errorText(t), name+"=") {
				t.Errorf("status %d: %s", r.status, r.body)
			}
		})
	}
}

// limitIgnorer returns more than asked; the API still honours the limit.
type limitIgnorer struct{ *fakeController }

func (l limitIgnorer) Decisions(audit.Filter) []decide.Decision {
	return make([]decide.Decision, 5)
}

func TestDecisionsLimitEnforced(t *testing.T) {
	srv, err := api.New(api.Opts{Controller: limitIgnorer{newFake(t)}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/decisions?limit=2", nil))
	var body struct{ Decisions []json.RawMessage }
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || len(body.Decisions) != 2 {
		t.Errorf("got %d decisions (%v), want 2", len(body.Decisions), err)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := api.New(api.Opts{}); err == nil {
		t.Error("no controller accepted")
	}
	_, err := api.New(api.Opts{Controller: newFake(t), Tokens: api.Tokens{"alice": "hunter2"}})
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "alice") {
		t.Errorf("short token: %v", err)
	}
	_, err = api.New(api.Opts{Controller: newFake(t), Tokens: api.Tokens{"a": aliceToken, "b": aliceToken}})
	if err == nil || strings.Contains(err.Error(), aliceToken) {
		t.Errorf("shared token: %v", err)
	}
	s, err := api.New(api.Opts{Controller: newFake(t)})
	if err != nil || s.Addr() != api.DefaultAddr {
		t.Errorf("default address: %v %q", err, s.Addr())
	}
}
