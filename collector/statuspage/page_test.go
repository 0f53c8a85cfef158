package statuspage

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/audit"
)

// fakeSource is a Source whose state the test sets.
type fakeSource struct {
	mu    sync.Mutex
	snap  Snapshot
	ch    chan struct{}
	calls int
}

func newFake(s Snapshot) *fakeSource { return &fakeSource{snap: s, ch: make(chan struct{})} }

func (f *fakeSource) Snapshot() Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	s := f.snap
	s.At = time.Now()
	// The page encodes a snapshot while set changes the next one: each
	// gets its own racks and nodes, as the service's snapshots do.
	s.Racks = slices.Clone(s.Racks)
	for i := range s.Racks {
		s.Racks[i].Nodes = slices.Clone(s.Racks[i].Nodes)
	}
	return s
}

func (f *fakeSource) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ch
}

// set changes the state and signals the change.
func (f *fakeSource) set(fn func(*Snapshot)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(&f.snap)
	close(f.ch)
	f.ch = make(chan struct{})
}

func (f *fakeSource) snapshots() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func fp(v float64) *float64 { return &v }

func ip(v int) *int { return &v }

// hotRack is a rack with a hot node that was shed, and the decision.
func hotRack() Snapshot {
	ms := []*float64{fp(2), fp(3), nil, fp(40)}
	return Snapshot{
		Racks: []Rack{{Name: "r1", Inlet: Temp{C: fp(24.5), Band: BandCool}, Nodes: []Node{
			{Name: "api-1", State: StateShed, WeightPct: ip(50), CPU: Temp{C: fp(93.5), Limit: fp(100), Band: BandHot},
				LatencyMs: fp(40), BaselineMs: fp(3), History: ms, HistoryStepS: 2,
				Link:   Link{Port: "tor1/Gi0/1", FCSPerS: fp(0), Flaps: fp(0)},
				Firing: []audit.Evidence{{Signal: "cpu_temperature", Value: 93.5, Threshold: 90, Unit: "°C", Firing: true}}},
			{Name: "api-2", State: StateOK, WeightPct: ip(100), CPU: Temp{C: fp(45), Band: BandCool}, History: []*float64{}, Firing: []audit.Evidence{}},
			{Name: "api-3", State: StateNoData, CPU: Temp{Band: BandNone}, History: []*float64{}, Firing: []audit.Evidence{}},
		}}},
		Decisions: []audit.Record{{At: audit.Time{Time: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}, Node: "api-1", Rack: "r1",
			Action: "shed", From: "full", To: "shed", Desired: "ready 50%", Taken: true,
			Cause:    "latency regression with physical evidence on the same node",
			Evidence: []audit.Evidence{{Signal: "cpu_temperature", Value: 93.5, Threshold: 90, Unit: "°C", Firing: true}}, Actor: "engine"}},
	}
}

func newPage(t *testing.T, src Source, o Opts) *Page {
	t.Helper()
	o.Source = src
	o.Logger = slog.New(slog.DiscardHandler)
	p, err := New(&o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func get(t *testing.T, h http.Handler, method, target string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestNewNeedsASource(t *testing.T) {
	if _, err := New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
}

func TestPageAndAssets(t *testing.T) {
	p := newPage(t, newFake(hotRack()), Opts{})
	css := p.files["style.css"]
	tests := []struct {
		name, method, target string
		hdr                  []string
		code                 int
		ctype, cache         string
		body                 []string
	}{
		{name: "page", method: "GET", target: "/", code: 200, ctype: "text/html; charset=utf-8", cache: "no-store",
			body: []string{`<html lang="en">`, `data-node="api-1" data-state="shed"`, `>shed</span>`, `>no data</span>`,
				"93.5 °C hot", "inlet 24.5 °C", "ready 50%", "cpu_temperature 93.5 °C ≥ 90 (firing)", "tor1/Gi0/1: FCS 0.00 /s, flaps 0",
				"40.0 ms", "(normal 3.0 ms)", `aria-label="latency over the last 8s: 2 to 40 ms"`, "11-26 12:00:00 UTC"}},
		{name: "head", method: "HEAD", target: "/", code: 200, ctype: "text/html; charset=utf-8"},
		{name: "versioned css", method: "GET", target: "/assets/style.css?v=" + css.hash, code: 200,
			ctype: "text/css; charset=utf-8", cache: "public, max-age=31536000, immutable", body: []string{".band-hot"}},
		{name: "unversioned js", method: "GET", target: "/assets/app.js", code: 200,
			ctype: "text/javascript; charset=utf-8", cache: "no-cache", body: []string{"EventSource"}},
		{name: "stale version", method: "GET", target: "/assets/style.css?v=0000", code: 200, ctype: "text/css; charset=utf-8", cache: "no-cache"},
		{name: "icon", method: "GET", target: "/assets/icon.svg", code: 200, ctype: "image/svg+xml"},
		{name: "revalidated", method: "GET", target: "/assets/style.css", hdr: []string{"If-None-Match", css.etag}, code: 304},
		{name: "template is no asset", method: "GET", target: "/assets/index.html", code: 404},
		{name: "unknown asset", method: "GET", target: "/assets/nope.js", code: 404},
		{name: "unknown path", method: "GET", target: "/nope", code: 404},
		{name: "post", method: "POST", target: "/", code: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := get(t, p, tt.method, tt.target, tt.hdr...)
			if w.Code != tt.code {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.code, w.Body)
			}
			h := w.Header()
			if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self';") {
				t.Errorf("Content-Security-Policy = %q", csp)
			}
			for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
				if h.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, h.Get(k), v)
				}
			}
			if tt.ctype != "" && h.Get("Content-Type") != tt.ctype {
				t.Errorf("Content-Type = %q, want %q", h.Get("Content-Type"), tt.ctype)
			}
			if tt.cache != "" && h.Get("Cache-Control") != tt.cache {
				t.Errorf("Cache-Control = %q, want %q", h.Get("Cache-Control"), tt.cache)
			}
			for _, s := range tt.body {
				if !strings.Contains(w.Body.String(), s) {
					t.Errorf("body lacks %q", s)
				}
			}
			if tt.code >= 400 && (h.Get("Content-Type") != "application/json; charset=utf-8" || !strings.HasPrefix(w.Body.String(), `{"error":`)) {
				t.Errorf("error answer %q: %s", h.Get("Content-Type"), w.Body)
			}
			if tt.code == 405 && h.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q", h.Get("Allow"))
			}
		})
	}
}

// The page must keep to its own CSP: no inline script or style, and
// nothing from elsewhere.
func TestPageKeepsToItsPolicy(t *testing.T) {
	body := get(t, newPage(t, newFake(hotRack()), Opts{}), "GET", "/").Body.String()
	for _, m := range regexp.MustCompile(`<script[^>]*>[^<]*</script>`).FindAllString(body, -1) {
		if !regexp.MustCompile(`^<script src="/assets/[^"]+" defer></script>$`).MatchString(m) {
			t.Errorf("inline or unexpected script %q", m)
		}
	}
	for _, re := range []string{`\sstyle=`, `<style`, `\son[a-z]+=`, `https?:`} {
		if m := regexp.MustCompile(re).FindString(body); m != "" {
			t.Errorf("the page has %q (matching %s)", m, re)
		}
	}
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(body, -1) {
		if !strings.HasPrefix(m[1], "/assets/") {
			t.Errorf("the page loads %q: only its own assets are allowed", m[1])
		}
	}
}

func TestPageEscapesNames(t *testing.T) {
	s := hotRack()
	s.Racks[0].Nodes[0].Name = `<img src=x onerror=alert(1)>`
	s.Decisions[0].Cause = `<script>alert(1)</script>`
	body := get(t, newPage(t, newFake(s), Opts{}), "GET", "/").Body.String()
	if strings.Contains(body, "<img src=x") || strings.Contains(body, "<script>alert") {
		t.Error("a name from the network became markup")
	}
	if !strings.Contains(body, "&lt;img src=x onerror=alert(1)&gt;") {
		t.Error("the escaped name is missing")
	}
}

func TestPageWithoutData(t *testing.T) {
	w := get(t, newPage(t, newFake(Snapshot{}), Opts{}), "GET", "/")
	if w.Code != 200 || !strings.Contains(w.Body.String(), "No nodes in the inventory.") || !strings.Contains(w.Body.String(), "No decisions yet.") {
		t.Errorf("%d\n%s", w.Code, w.Body)
	}
}

func TestPageSwitchBanners(t *testing.T) {
	s := hotRack()
	s.Stop, s.DryRun = true, true
	body := get(t, newPage(t, newFake(s), Opts{}), "GET", "/").Body.String()
	for _, want := range []string{"Global stop is on:", "Dry-run is on:"} {
		if !strings.Contains(body, want) {
			t.Errorf("no %q banner", want)
		}
	}
}

// sse is a client of the event stream.
type sse struct {
	resp *http.Response
	r    *bufio.Reader
}

type sseEvent struct{ name, id, data string }

func dial(t *testing.T, url string, hdr ...string) *sse {
	t.Helper()
	req, err := http.NewRequest("GET", url+PathEvents, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET %s: %s, %q", PathEvents, resp.Status, resp.Header.Get("Content-Type"))
	}
	return &sse{resp: resp, r: bufio.NewReader(resp.Body)}
}

// next reads the next event, skipping the retry field; it fails the test
// after timeout.
func (c *sse) next(t *testing.T, timeout time.Duration) sseEvent {
	t.Helper()
	type result struct {
		ev  sseEvent
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var ev sseEvent
		for {
			line, err := c.r.ReadString('\n')
			if err != nil {
				ch <- result{err: err}
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				if ev.name != "" {
					ch <- result{ev: ev}
					return
				}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "id: "):
				ev.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				ev.data += strings.TrimPrefix(line, "data: ")
			case strings.HasPrefix(line, "retry: "):
			default:
				ch <- result{err: io.ErrUnexpectedEOF}
				return
			}
		}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("reading the stream: %v", r.err)
		}
		return r.ev
	case <-time.After(timeout):
		c.resp.Body.Close()
		t.Fatalf("no event within %v", timeout)
	}
	return sseEvent{}
}

// run starts the page's loop; the cleanup stops it and waits.
func run(t *testing.T, p *Page) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	// Run's first snapshot, so that a client connecting next starts with
	// it rather than with one of its own.
	for deadline := time.Now().Add(time.Second); p.Stats().Events == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Run published nothing")
		}
	}
	return cancel
}

func decode(t *testing.T, ev sseEvent) Snapshot {
	t.Helper()
	var s Snapshot
	if err := json.Unmarshal([]byte(ev.data), &s); err != nil {
		t.Fatalf("event %q: %v", ev.name, err)
	}
	return s
}

func state(s Snapshot, node string) string {
	for _, r := range s.Racks {
		for _, n := range r.Nodes {
			if n.Name == node {
				return n.State
			}
		}
	}
	return ""
}

func TestEventsFollowChangesCoalesced(t *testing.T) {
	src := newFake(hotRack())
	p := newPage(t, src, Opts{MinInterval: 100 * time.Millisecond, Heartbeat: time.Hour})
	run(t, p)
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	c := dial(t, srv.URL)
	if cc := c.resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
	first := c.next(t, 2*time.Second)
	if first.name != "snapshot" || first.id == "" || state(decode(t, first), "api-1") != StateShed {
		t.Fatalf("first event %+v", first)
	}
	// A burst of changes: at most one event per MinInterval, and the last
	// one carries the final state.
	before := src.snapshots()
	for _, st := range []string{StateDrained, StateRestoring, StatePinned, StateOK, StateDrained} {
		src.set(func(s *Snapshot) { s.Racks[0].Nodes[0].State = st })
		time.Sleep(5 * time.Millisecond)
	}
	var got []string
	deadline := time.After(time.Second)
	for len(got) == 0 || got[len(got)-1] != StateDrained {
		select {
		case <-deadline:
			t.Fatalf("states seen %v, want to end on drained", got)
		default:
		}
		ev := c.next(t, time.Second)
		if ev.name != "snapshot" || ev.id == first.id {
			t.Fatalf("event %+v", ev)
		}
		got = append(got, state(decode(t, ev), "api-1"))
	}
	if n := src.snapshots() - before; n > 3 {
		t.Errorf("5 changes within 25ms took %d snapshots, want them coalesced", n)
	}
	// No change in content: no event, though the source signals.
	src.set(func(*Snapshot) {})
	src.set(func(s *Snapshot) { s.Racks[0].Nodes[1].State = StateShed })
	if ev := c.next(t, time.Second); state(decode(t, ev), "api-2") != StateShed {
		t.Errorf("event after a change %+v", ev)
	}
	if st := p.Stats(); st.Clients != 1 || st.Events < 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestEventsHeartbeatAndReconnect(t *testing.T) {
	src := newFake(hotRack())
	p := newPage(t, src, Opts{Heartbeat: 50 * time.Millisecond})
	run(t, p)
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	c := dial(t, srv.URL)
	snap := c.next(t, 2*time.Second)
	hb := c.next(t, time.Second)
	if hb.name != "heartbeat" || hb.id != "" {
		t.Fatalf("event %+v, want a heartbeat", hb)
	}
	var b struct{ At time.Time }
	if err := json.Unmarshal([]byte(hb.data), &b); err != nil || b.At.IsZero() {
		t.Errorf("heartbeat data %q: %v", hb.data, err)
	}
	// A client that reconnects with the latest ID gets only what follows.
	again := dial(t, srv.URL, "Last-Event-ID", snap.id)
	if ev := again.next(t, time.Second); ev.name != "heartbeat" {
		t.Errorf("a client with the latest snapshot got %+v first", ev)
	}
	// One with an older ID, or none, gets the latest at once.
	for _, id := range []string{"", "stale-1"} {
		c := dial(t, srv.URL, "Last-Event-ID", id)
		if ev := c.next(t, time.Second); ev.name != "snapshot" || ev.id != snap.id {
			t.Errorf("Last-Event-ID %q: first event %+v", id, ev)
		}
	}
}

// Before Run publishes, a client still gets the state at once.
func TestEventsBeforeRun(t *testing.T) {
	p := newPage(t, newFake(hotRack()), Opts{})
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	c := dial(t, srv.URL)
	if ev := c.next(t, time.Second); ev.name != "snapshot" || state(decode(t, ev), "api-1") != StateShed {
		t.Errorf("first event %+v", ev)
	}
}

// A client that does not keep up is dropped: the page never waits for it.
func TestSlowClientDropped(t *testing.T) {
	src := newFake(hotRack())
	p := newPage(t, src, Opts{MinInterval: time.Millisecond, Heartbeat: time.Hour, ClientBuffer: 2})
	slow, _, ok := p.subscribe() // never reads
	if !ok {
		t.Fatal("subscribe refused")
	}
	run(t, p)
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	fast := dial(t, srv.URL)
	fast.next(t, time.Second)
	for i := range 5 {
		src.set(func(s *Snapshot) { s.Racks[0].Nodes[0].WeightPct = ip(i) })
		if ev := fast.next(t, time.Second); ev.name != "snapshot" {
			t.Fatalf("event %+v", ev)
		}
	}
	select {
	case <-slow.gone:
	case <-time.After(time.Second):
		t.Fatal("the slow client was not dropped")
	}
	if st := p.Stats(); st.Dropped != 1 || st.Clients != 1 {
		t.Errorf("stats %+v, want 1 dropped, 1 left", st)
	}
}

func TestMaxClients(t *testing.T) {
	p := newPage(t, newFake(hotRack()), Opts{MaxClients: 1})
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	dial(t, srv.URL).next(t, time.Second)
	resp, err := http.Get(srv.URL + PathEvents)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("second stream: %s, Retry-After %q", resp.Status, resp.Header.Get("Retry-After"))
	}
}

// Streams end when the page stops, so that the server can shut down.
func TestEventsEndOnShutdown(t *testing.T) {
	p := newPage(t, newFake(hotRack()), Opts{Heartbeat: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	c := dial(t, srv.URL)
	c.next(t, time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	eof := make(chan error, 1)
	go func() { _, err := io.ReadAll(c.r); eof <- err }()
	select {
	case err := <-eof:
		if err != nil {
			t.Errorf("the stream ended with %v, want a clean end", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the stream outlived the page")
	}
	for deadline := time.Now().Add(time.Second); p.Stats().Clients != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v after shutdown", p.Stats())
		}
	}
	// A stream opened as the server shuts down is refused, not left open.
	resp, err := http.Get(srv.URL + PathEvents)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a stream after shutdown: %s", resp.Status)
	}
}

// The API server's read and write timeouts must not cut a stream.
func TestEventsOutliveServerTimeouts(t *testing.T) {
	p := newPage(t, newFake(hotRack()), Opts{Heartbeat: 100 * time.Millisecond})
	run(t, p)
	srv := httptest.NewUnstartedServer(p)
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = 150*time.Millisecond, 150*time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	c := dial(t, srv.URL)
	c.next(t, time.Second)
	for range 5 { // 500 ms, over three times the timeouts
		if ev := c.next(t, time.Second); ev.name != "heartbeat" {
			t.Fatalf("event %+v", ev)
		}
	}
}
