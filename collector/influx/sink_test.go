package influx

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	influxlog "github.com/influxdata/influxdb-client-go/v2/log"

	"github.com/rackwatch/rackwatch/deploy/testrig"
	goldenfile "github.com/rackwatch/rackwatch/deploy/testrig/golden"
	"github.com/rackwatch/rackwatch/edge/sample"
)

func TestMain(m *testing.M) {
	// The client logs every failed write to stderr through a package-level
	// logger; the tests check the Sink's own logging instead.
	influxlog.Log = nil
	os.Exit(m.Run())
}

// t0 is a fixed instant for timestamps: 2026-11-26T12:00:00.123456789Z.
var t0 = time.Date(2026, 11, 26, 12, 0, 0, 123456789, time.UTC)

// capture is an InfluxDB /api/v2/write endpoint that records what it is sent
// and answers with status (204 when zero).
type capture struct {
	mu       sync.Mutex
	requests []string
	lines    int
	status   int
	answer   string
	header   string
	// hold, when not nil, delays every answer until it is closed.
	hold chan struct{}
	// unavailable is the number of requests still to answer with 503
	// without taking their lines.
	unavailable int
	refused     int
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if c.hold != nil {
		<-c.hold
	}
	c.mu.Lock()
	if c.unavailable > 0 {
		c.unavailable--
		c.refused++
		c.mu.Unlock()
		http.Error(w, `{"error":"overloaded"}`, http.StatusServiceUnavailable)
		return
	}
	c.requests = append(c.requests, fmt.Sprintf("%s %s\nAuthorization: %s\nContent-Type: %s\n\n%s",
		r.Method, r.URL.RequestURI(), r.Header.Get("Authorization"), r.Header.Get("Content-Type"), body))
	c.lines += bytes.Count(body, []byte("\n"))
	status, answer := c.status, c.answer
	c.mu.Unlock()
	if status == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	// InfluxDB 1.8 puts its error text in a header as well as in the body
	// (services/httpd/handler.go, httpError).
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Influxdb-Error", c.header)
	w.WriteHeader(status)
	io.WriteString(w, answer)
}

func (c *capture) snapshot() (requests []string, lines int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.requests...), c.lines
}

func startCapture(t *testing.T, c *capture) string {
	t.Helper()
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestWriteGolden checks the requests a Sink sends, line protocol included,
// against testdata/write.golden. Run with -update to rewrite it.
func TestWriteGolden(t *testing.T) {
	c := &capture{}
	url := startCapture(t, c)
	s, err := New(&Opts{
		URL:             url,
		Database:        "rackwatch",
		RetentionPolicy: "autogen",
		Username:        "rw",
		Password:        "s3cret",
		BatchSize:       100,
		// Only Close flushes, so that the batch is deterministic.
		FlushInterval: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.WriteSample("edge-r12", "tmp102-48", sample.Sample{
		Metric: sample.TemperatureCelsius, Labels: sample.L("sensor", "inlet"),
		Value: sample.Float(23.5), Unit: "celsius", TS: t0,
	})
	s.WriteSample("edge-r12", "sw-r12", sample.Sample{
		Metric: sample.IfInErrors, Labels: sample.L("ifname", "Gi1/0/1"),
		Value: sample.Uint(math.MaxInt64), Unit: "packets", TS: t0.Add(time.Millisecond),
	})
	s.WriteSample("edge-r12", "sw-r12", sample.Sample{
		Metric: sample.IfOperUp, Labels: sample.L("ifname", "Gi1/0/1"),
		Value: sample.Bool(true), Unit: "bool", TS: t0.Add(2 * time.Millisecond),
	})
	// Characters that line protocol escapes, an Int value, a label that the
	// origin overrides and an empty device, which is left out.
	s.WriteSample("edge r12", "", sample.Sample{
		Metric: "test metric,x", Labels: sample.L("edge", "spoofed", "name=with", "a b,c"),
		Value: sample.Int(-40), TS: t0.Add(3 * time.Millisecond),
	})
	s.WriteDecision(Decision{
		TS: t0.Add(4 * time.Millisecond), Node: "node-7", Backend: "web", Server: "s7",
		Action: "drain", Reason: `inlet 41.5 °C > 40 °C for 60s; "hot"`,
	})
	s.Close()

	if s.Dropped() != 0 || s.Errors() != 0 {
		t.Errorf("Dropped() = %d, Errors() = %d, want 0 and 0", s.Dropped(), s.Errors())
	}
	requests, _ := c.snapshot()
	got := strings.Join(requests, "\n---\n")
	goldenfile.Check(t, "write.golden", []byte(got))
}

type tag struct{ k, v string }

func TestSamplePoint(t *testing.T) {
	s := &Sink{now: func() time.Time { return t0 }}
	for _, tc := range []struct {
		name   string
		edge   string
		device string
		in     sample.Sample
		drop   bool
		tags   []tag
		value  any
		ts     time.Time
	}{
		{
			name: "float", edge: "e1", device: "d1",
			in:    sample.Sample{Metric: "temperature_celsius", Labels: sample.L("sensor", "cpu"), Value: sample.Float(-12.25), TS: t0.Add(time.Second)},
			tags:  []tag{{"device", "d1"}, {"edge", "e1"}, {"sensor", "cpu"}},
			value: -12.25, ts: t0.Add(time.Second),
		},
		{
			name: "uint as int64", edge: "e1", device: "d1",
			in:    sample.Sample{Metric: "if_in_errors_total", Labels: sample.L("ifname", "eth0"), Value: sample.Uint(15), TS: t0},
			tags:  []tag{{"device", "d1"}, {"edge", "e1"}, {"ifname", "eth0"}},
			value: int64(15), ts: t0,
		},
		{
			name: "largest uint that fits", edge: "e1",
			in:    sample.Sample{Metric: "c", Value: sample.Uint(math.MaxInt64), TS: t0},
			tags:  []tag{{"device", ""}, {"edge", "e1"}},
			value: int64(math.MaxInt64), ts: t0,
		},
		{name: "uint above 2^63-1", in: sample.Sample{Metric: "c", Value: sample.Uint(math.MaxInt64 + 1), TS: t0}, drop: true},
		{name: "max uint64", in: sample.Sample{Metric: "c", Value: sample.Uint(math.MaxUint64), TS: t0}, drop: true},
		{
			name: "int", edge: "e1", device: "d1",
			in:    sample.Sample{Metric: "m", Value: sample.Int(-3), TS: t0},
			tags:  []tag{{"device", "d1"}, {"edge", "e1"}},
			value: int64(-3), ts: t0,
		},
		{
			name: "bool false", edge: "e1", device: "d1",
			in:    sample.Sample{Metric: "if_oper_up", Value: sample.Bool(false), TS: t0},
			tags:  []tag{{"device", "d1"}, {"edge", "e1"}},
			value: false, ts: t0,
		},
		{
			name: "origin wins over labels", edge: "e1", device: "d1",
			in:    sample.Sample{Metric: "m", Labels: sample.L("device", "x", "edge", "y", "z", "1"), Value: sample.Int(1), TS: t0},
			tags:  []tag{{"device", "d1"}, {"edge", "e1"}, {"z", "1"}},
			value: int64(1), ts: t0,
		},
		{
			name: "zero time takes now", edge: "e1", device: "d1",
			in:    sample.Sample{Metric: "m", Value: sample.Int(1)},
			tags:  []tag{{"device", "d1"}, {"edge", "e1"}},
			value: int64(1), ts: t0,
		},
		{name: "NaN", in: sample.Sample{Metric: "m", Value: sample.Float(math.NaN()), TS: t0}, drop: true},
		{name: "+Inf", in: sample.Sample{Metric: "m", Value: sample.Float(math.Inf(1)), TS: t0}, drop: true},
		{name: "-Inf", in: sample.Sample{Metric: "m", Value: sample.Float(math.Inf(-1)), TS: t0}, drop: true},
		{name: "no value", in: sample.Sample{Metric: "m", TS: t0}, drop: true},
		{name: "no metric", in: sample.Sample{Value: sample.Int(1), TS: t0}, drop: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, ok := s.samplePoint(tc.edge, tc.device, tc.in)
			if ok == tc.drop {
				t.Fatalf("samplePoint ok = %v, want %v", ok, !tc.drop)
			}
			if tc.drop {
				return
			}
			if p.Name() != tc.in.Metric {
				t.Errorf("measurement = %q, want %q", p.Name(), tc.in.Metric)
			}
			var tags []tag
			for _, tg := range p.TagList() {
				tags = append(tags, tag{tg.Key, tg.Value})
			}
			if !reflect.DeepEqual(tags, tc.tags) {
				t.Errorf("tags = %v, want %v", tags, tc.tags)
			}
			fields := p.FieldList()
			if len(fields) != 1 || fields[0].Key != "value" {
				t.Fatalf("fields = %v, want the single field value", fields)
			}
			// DeepEqual compares dynamic types too: a uint64 or an int
			// would not match an int64.
			if !reflect.DeepEqual(fields[0].Value, tc.value) {
				t.Errorf("value = %#v (%T), want %#v (%T)", fields[0].Value, fields[0].Value, tc.value, tc.value)
			}
			if !p.Time().Equal(tc.ts) {
				t.Errorf("time = %v, want %v", p.Time(), tc.ts)
			}
		})
	}
}

func TestDecisionPoint(t *testing.T) {
	s := &Sink{now: func() time.Time { return t0 }}
	p := s.decisionPoint(Decision{Node: "n1", Rack: "r1", Backend: "be", Server: "s1", Action: "ready", Reason: "cooled to 30 °C"})
	if p.Name() != DecisionMeasurement {
		t.Errorf("measurement = %q", p.Name())
	}
	var tags []tag
	for _, tg := range p.TagList() {
		tags = append(tags, tag{tg.Key, tg.Value})
	}
	if want := []tag{{"action", "ready"}, {"backend", "be"}, {"node", "n1"}, {"rack", "r1"}, {"server", "s1"}}; !reflect.DeepEqual(tags, want) {
		t.Errorf("tags = %v, want %v", tags, want)
	}
	fields := map[string]any{}
	for _, f := range p.FieldList() {
		fields[f.Key] = f.Value
	}
	if want := map[string]any{"reason": "cooled to 30 °C", "value": int64(1)}; !reflect.DeepEqual(fields, want) {
		t.Errorf("fields = %#v, want %#v", fields, want)
	}
	if !p.Time().Equal(t0) {
		t.Errorf("time = %v, want now (%v) for a zero TS", p.Time(), t0)
	}
}

// goroutinesSettle waits for the goroutine count to fall back to n: a Sink
// must stop every goroutine it started, the client's included.
func goroutinesSettle(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after Close, want %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDropsCounted(t *testing.T) {
	c := &capture{}
	srv := httptest.NewServer(c)
	before := runtime.NumGoroutine()
	s, err := New(&Opts{URL: srv.URL, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	s.WriteSample("e", "d", sample.Sample{Metric: "m", Value: sample.Float(math.NaN()), TS: t0})
	s.WriteSample("e", "d", sample.Sample{Metric: "m", Value: sample.Uint(1 << 63), TS: t0})
	s.WriteSample("e", "d", sample.Sample{Metric: "m", Value: sample.Float(1), TS: t0})
	s.Close()
	s.Close() // a second Close is harmless
	s.WriteSample("e", "d", sample.Sample{Metric: "m", Value: sample.Float(2), TS: t0})
	s.WriteDecision(Decision{TS: t0, Node: "n", Action: "drain"})

	if got := s.Dropped(); got != 4 {
		t.Errorf("Dropped() = %d, want 4 (NaN, 2^63, two after Close)", got)
	}
	srv.CloseClientConnections()
	goroutinesSettle(t, before)
	srv.Close()
	requests, lines := c.snapshot()
	if lines != 1 {
		t.Errorf("%d lines written, want 1:\n%s", lines, strings.Join(requests, "\n"))
	}
}

// TestNeverBlocks writes to a server that does not answer: every call must
// return at once, and what the queue cannot hold is dropped and counted.
func TestNeverBlocks(t *testing.T) {
	c := &capture{hold: make(chan struct{})}
	url := startCapture(t, c)
	s, err := New(&Opts{URL: url, BatchSize: 1, FlushInterval: 10 * time.Millisecond, QueueSize: 4, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	start := time.Now()
	for i := range n {
		s.WriteSample("e", "d", sample.Sample{Metric: "m", Value: sample.Int(int64(i)), TS: t0.Add(time.Duration(i))})
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("%d writes took %s with the server stalled", n, d)
	}
	dropped := s.Dropped()
	if dropped == 0 {
		t.Error("Dropped() = 0 with a stalled server and a queue of 4")
	}
	close(c.hold)
	s.Close()
	if _, lines := c.snapshot(); uint64(lines)+dropped != n {
		t.Errorf("%d lines written + %d dropped, want %d", lines, dropped, n)
	}
	if s.Errors() != 0 {
		t.Errorf("Errors() = %d, want 0", s.Errors())
	}
}

func TestWriteErrorsCountedAndLogged(t *testing.T) {
	c := &capture{status: http.StatusNotFound, answer: `{"error":"database not found: \"nodb\""}`, header: `database not found: "nodb"`}
	url := startCapture(t, c)
	var logs testrig.Buffer
	var now atomic.Int64
	now.Store(t0.UnixNano())
	s, err := newSink(&Opts{
		URL: url, Database: "nodb", BatchSize: 1, FlushInterval: 5 * time.Millisecond,
		Logger: newTestLogger(&logs),
	}, func() time.Time { return time.Unix(0, now.Load()).UTC() })
	if err != nil {
		t.Fatal(err)
	}
	// One write at a time: the client drops an error that arrives before
	// the previous one was read.
	write := func(i int, wantErrors uint64) {
		t.Helper()
		s.WriteSample("e", "d", sample.Sample{Metric: "m", Value: sample.Int(int64(i)), TS: t0})
		deadline := time.Now().Add(10 * time.Second)
		for s.Errors() < wantErrors {
			if time.Now().After(deadline) {
				t.Fatalf("Errors() = %d after 10s, want %d", s.Errors(), wantErrors)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	write(1, 1) // logged
	write(2, 2) // within errorLogInterval: suppressed
	now.Add(int64(errorLogInterval))
	write(3, 3) // logged, with one suppressed
	write(4, 4) // suppressed, then logged by Close as the last error
	s.Close()

	if got := s.Errors(); got != 4 {
		t.Errorf("Errors() = %d, want 4", got)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	want := []string{"errors_total=1 suppressed=0", "errors_total=3 suppressed=1", "errors_total=4 suppressed=1"}
	if len(lines) != len(want) {
		t.Fatalf("log has %d lines, want %d:\n%s", len(lines), len(want), logs.String())
	}
	for i, l := range lines {
		if !strings.Contains(l, "database not found") || !strings.HasSuffix(l, want[i]) {
			t.Errorf("log line %d = %s\nwant the server's error and %s", i, l, want[i])
		}
	}
	requests, _ := c.snapshot()
	if len(requests) != 4 || !strings.Contains(requests[0], "\nAuthorization: \n") {
		t.Errorf("want 4 requests without credentials, got:\n%s", strings.Join(requests, "\n---\n"))
	}
}

// newTestLogger logs text without timestamps to w.
func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{ReplaceAttr: dropTime}))
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

func TestOpts(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts *Opts
		ok   bool
	}{
		{"nil takes defaults", nil, true},
		{"zero takes defaults", &Opts{}, true},
		{"https with rp and auth", &Opts{URL: "https://influx.example:8086", RetentionPolicy: "rp", Username: "u", Password: "p"}, true},
		{"no scheme", &Opts{URL: "127.0.0.1:8086"}, false},
		{"udp scheme", &Opts{URL: "udp://127.0.0.1:8089"}, false},
		{"bad url", &Opts{URL: "http://[::1"}, false},
		{"slash in database", &Opts{Database: "a/b"}, false},
		{"slash in retention policy", &Opts{RetentionPolicy: "a/b"}, false},
		{"password without user", &Opts{Password: "p"}, false},
		{"flush interval below 1ms", &Opts{FlushInterval: time.Microsecond}, false},
		{"negative flush interval", &Opts{FlushInterval: -time.Second}, false},
		{"negative queue", &Opts{QueueSize: -1}, false},
		{"timeout below 1s", &Opts{Timeout: time.Millisecond}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.opts)
			if (err == nil) != tc.ok {
				t.Fatalf("New() error = %v, want ok = %v", err, tc.ok)
			}
			if err != nil {
				if !strings.HasPrefix(err.Error(), "influx: ") {
					t.Errorf("error %q lacks the package prefix", err)
				}
				return
			}
			s.Close()
		})
	}
}

func TestOptsDefaults(t *testing.T) {
	o, err := (*Opts)(nil).withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o, DefaultOpts) {
		t.Errorf("nil opts = %v, want DefaultOpts %v", o, DefaultOpts)
	}
	o, err = (&Opts{Database: "x", BatchSize: 7}).withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if o.Database != "x" || o.BatchSize != 7 || o.URL != DefaultOpts.URL || o.FlushInterval != DefaultOpts.FlushInterval {
		t.Errorf("withDefaults overrode set fields or missed zero ones: %v", o)
	}
}

func TestOptsStringHidesPassword(t *testing.T) {
	o := Opts{URL: "http://h:8086", Username: "u", Password: "hunter2"}
	for _, s := range []string{o.String(), fmt.Sprint(o), fmt.Sprintf("%v", &o)} {
		if strings.Contains(s, "hunter2") || !strings.Contains(s, "<secret>") {
			t.Errorf("%s shows the password or hides that one is set", s)
		}
	}
}

// TestRetryAfterUnavailable checks that batches InfluxDB refused with a
// 503 are written later, each point once, without a new write to push
// them (the client alone retries only when a new batch comes).
func TestRetryAfterUnavailable(t *testing.T) {
	c := &capture{unavailable: 3}
	url := startCapture(t, c)
	s, err := New(&Opts{URL: url, BatchSize: 10, FlushInterval: 5 * time.Millisecond,
		RetryInterval: 10 * time.Millisecond, MaxRetryInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	for i := range n {
		s.WriteSample("e", "d", sample.Sample{Metric: "m", Value: sample.Int(int64(i)), TS: t0.Add(time.Duration(i))})
	}
	// Failures are counted by the goroutine that reads the client's error
	// channel, which may be a moment behind the last write.
	deadline := time.Now().Add(10 * time.Second)
	for {
		// The retry loop removes a batch once its write has returned, a
		// moment after the server counted its lines.
		if _, lines := c.snapshot(); lines == n && s.Stats().Errors >= 3 && s.Stats().RetryBuffered == 0 {
			break
		}
		if time.Now().After(deadline) {
			_, lines := c.snapshot()
			t.Fatalf("%d of %d lines written after 10s; stats %+v", lines, n, s.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	st := s.Stats()
	s.Close()
	if st.Retried == 0 || st.Retried > n || st.RetryDropped != 0 || st.RetryBuffered != 0 || st.Errors != 3 || st.Accepted != n {
		t.Errorf("Stats() = %+v, want %d accepted, some retried, 3 errors, nothing dropped or buffered", st, n)
	}
	if _, lines := c.snapshot(); lines != n {
		t.Errorf("%d lines written after Close, want %d: points written twice", lines, n)
	}
}

// TestRetryBufferBound writes to a server that always answers 503: the
// retry buffer holds at most its bound, and every point beyond it, and
// every point still buffered at Close, is counted.
func TestRetryBufferBound(t *testing.T) {
	c := &capture{unavailable: math.MaxInt}
	url := startCapture(t, c)
	s, err := New(&Opts{URL: url, BatchSize: 10, FlushInterval: time.Millisecond, RetryBuffer: 25,
		RetryInterval: time.Millisecond, MaxRetryInterval: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := range n {
		s.WriteSample("e", "d", sample.Sample{Metric: "m", Value: sample.Int(int64(i)), TS: t0.Add(time.Duration(i))})
		if b := s.Stats().RetryBuffered; b > 25 {
			t.Fatalf("RetryBuffered = %d, above the bound of 25", b)
		}
		if i%10 == 9 {
			time.Sleep(2 * time.Millisecond) // let batches fail in turn
		}
	}
	s.Close()
	st := s.Stats()
	if st.Accepted != n || st.RetryDropped != n || st.Retried != 0 || st.RetryBuffered != 0 || st.Errors == 0 {
		t.Errorf("Stats() = %+v, want all %d accepted then dropped after failing", st, n)
	}
	if _, lines := c.snapshot(); lines != 0 {
		t.Errorf("%d lines taken by a server that refused them all", lines)
	}
}

func TestRetryBufferPush(t *testing.T) {
	for _, tc := range []struct {
		name        string
		limit       int
		push        []string
		wantDropped []int
		wantPoints  int
		wantFirst   string
	}{
		{"fits", 5, []string{"a\nb\n", "c\n"}, []int{0, 0}, 3, "a\nb\n"},
		{"oldest goes", 3, []string{"a\nb\n", "c\n", "d\n"}, []int{0, 0, 2}, 2, "c\n"},
		{"larger than the buffer", 2, []string{"a\n", "b\nc\nd\n"}, []int{0, 3}, 1, "a\n"},
		{"no trailing newline", 5, []string{"a\nb"}, []int{0}, 2, "a\nb"},
		{"empty", 5, []string{""}, []int{0}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := retryBuffer{limit: tc.limit, wake: make(chan struct{}, 1)}
			for i, p := range tc.push {
				if got := b.push(p); got != tc.wantDropped[i] {
					t.Errorf("push(%q) dropped %d, want %d", p, got, tc.wantDropped[i])
				}
			}
			if b.len() != tc.wantPoints {
				t.Errorf("len() = %d, want %d", b.len(), tc.wantPoints)
			}
			first, _ := b.first()
			if first.lines != tc.wantFirst {
				t.Errorf("first = %q, want %q", first.lines, tc.wantFirst)
			}
		})
	}
}

func TestNodePoint(t *testing.T) {
	s := &Sink{now: func() time.Time { return t0 }}
	nan := math.NaN()
	p := s.nodePoint(NodeState{Node: "n1", Rack: "r1", State: NodeShed, WeightPct: 50, CPUTemp: 71.5, CPUTempLimit: nan,
		InletTemp: 24, ThrottleRate: 0, FCSRate: nan, Flaps: math.Inf(1), Latency: 0.25, Baseline: nan, BackendP99: nan})
	var tags []tag
	for _, tg := range p.TagList() {
		tags = append(tags, tag{tg.Key, tg.Value})
	}
	if want := []tag{{"node", "n1"}, {"rack", "r1"}}; p.Name() != NodeMeasurement || !reflect.DeepEqual(tags, want) {
		t.Errorf("%s %v, want %s %v", p.Name(), tags, NodeMeasurement, want)
	}
	fields := map[string]any{}
	for _, f := range p.FieldList() {
		fields[f.Key] = f.Value
	}
	// Unknown values (NaN, infinite) are left out, a known zero is kept.
	want := map[string]any{"state": "shed", "state_code": int64(1), "weight_pct": int64(50), "cpu_temp_celsius": 71.5,
		"inlet_temp_celsius": 24.0, "throttle_per_second": 0.0, "latency_seconds": 0.25}
	if !reflect.DeepEqual(fields, want) {
		t.Errorf("fields = %#v, want %#v", fields, want)
	}
	if !p.Time().Equal(t0) {
		t.Errorf("time = %v, want %v", p.Time(), t0)
	}
}

func TestNodeStateCodes(t *testing.T) {
	for _, tc := range []struct {
		s    NodeStateName
		code int64
	}{{NodeOK, 0}, {NodeShed, 1}, {NodeDrained, 2}, {NodeRestoring, 3}, {NodePinned, 4}, {NodeNoData, 5}, {"bogus", -1}} {
		if got := tc.s.Code(); got != tc.code {
			t.Errorf("%s.Code() = %d, want %d", tc.s, got, tc.code)
		}
	}
}

func TestWriteNodeAndEdge(t *testing.T) {
	c := &capture{}
	url := startCapture(t, c)
	s, err := New(&Opts{URL: url, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	s.WriteNode(NodeState{TS: t0, Node: "n1", Rack: "r1", State: NodeDrained, CPUTemp: math.NaN(), CPUTempLimit: math.NaN(),
		InletTemp: math.NaN(), ThrottleRate: math.NaN(), FCSRate: math.NaN(), Flaps: math.NaN(),
		Latency: math.NaN(), Baseline: math.NaN(), BackendP99: math.NaN()})
	s.WriteNode(NodeState{TS: t0, Node: "n1", State: "bogus"}) // dropped
	s.WriteNode(NodeState{TS: t0, State: NodeOK})              // dropped: no node
	s.WriteEdge(t0, "edge-r12", true)
	s.WriteEdge(t0.Add(time.Second), "edge-r12", false)
	s.WriteEdge(t0, "", true) // dropped
	s.Close()
	requests, _ := c.snapshot()
	body := strings.Join(requests, "\n")
	for _, want := range []string{
		`rackwatch_node,node=n1,rack=r1 state="drained",state_code=2i,weight_pct=0i 1795694400123456789`,
		`rackwatch_edge,edge=edge-r12 online=1i 1795694400123456789`,
		`rackwatch_edge,edge=edge-r12 online=0i 1795694401123456789`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("request lacks %s:\n%s", want, body)
		}
	}
	if st := s.Stats(); st.Dropped != 3 || st.Accepted != 3 {
		t.Errorf("Stats() = %+v, want 3 accepted and 3 dropped", st)
	}
}

// TestClientRetryBuffer pins the behaviour of influxdb-client-go's own
// retry buffer that made the Sink keep failed batches itself (see doc.go):
// it retries only when a new batch comes, and when it is full it drops
// batches without a count anyone could export. If this fails after an
// upgrade of the client, the Sink's retry buffer may no longer be needed.
func TestClientRetryBuffer(t *testing.T) {
	write := func(wapi interface{ WriteRecord(string) }, from, n int) {
		for i := from; i < from+n; i++ {
			wapi.WriteRecord(fmt.Sprintf("m value=%di %d", i, i))
		}
	}
	t.Run("retries only on a new batch", func(t *testing.T) {
		c := &capture{unavailable: 1}
		url := startCapture(t, c)
		client := influxdb2.NewClientWithOptions(url, "", influxdb2.DefaultOptions().
			SetBatchSize(10).SetFlushInterval(5).SetRetryInterval(1).SetMaxRetryInterval(2))
		defer client.Close()
		wapi := client.WriteAPI("", "db")
		write(wapi, 0, 10)
		deadline := time.Now().Add(5 * time.Second)
		for c.refusedCount() == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		// Far beyond the retry interval: nothing is retried meanwhile.
		time.Sleep(200 * time.Millisecond)
		if _, lines := c.snapshot(); lines != 0 || c.refusedCount() != 1 {
			t.Fatalf("%d lines written and %d requests refused while idle, want 0 and 1", lines, c.refusedCount())
		}
		write(wapi, 10, 10)
		for _, lines := c.snapshot(); lines < 20 && time.Now().Before(deadline); _, lines = c.snapshot() {
			time.Sleep(time.Millisecond)
		}
		if _, lines := c.snapshot(); lines != 20 {
			t.Errorf("%d lines written after a new batch, want the retried 10 and the new 10", lines)
		}
	})
	t.Run("drops when full", func(t *testing.T) {
		c := &capture{unavailable: math.MaxInt}
		url := startCapture(t, c)
		client := influxdb2.NewClientWithOptions(url, "", influxdb2.DefaultOptions().
			SetBatchSize(10).SetFlushInterval(5).SetRetryInterval(1).SetMaxRetryInterval(2).
			SetRetryBufferLimit(10)) // one batch
		wapi := client.WriteAPI("", "db")
		var errs atomic.Int64
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range wapi.Errors() {
				errs.Add(1)
			}
		}()
		for b := range 5 {
			write(wapi, b*10, 10)
			time.Sleep(20 * time.Millisecond) // past the retry delay
		}
		c.mu.Lock()
		c.unavailable = 0
		c.mu.Unlock()
		client.Close() // flushes what the client still holds
		<-done
		if _, lines := c.snapshot(); lines >= 50 {
			t.Errorf("%d of 50 lines written: the client kept every batch", lines)
		}
		t.Logf("the client lost %d of 50 lines; its error channel reported %d failed requests", 50-c.linesCount(), errs.Load())
	})
}

func (c *capture) refusedCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refused
}

func (c *capture) linesCount() int {
	_, lines := c.snapshot()
	return lines
}
