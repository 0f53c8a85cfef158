package haplog

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/deploy/testrig"
)

func TestParseHTTPLog(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       Entry
		err        bool
	}{
		{"syslog rfc3164", `<134>Nov 26 13:00:00 haproxy[123]: 127.0.0.1:45678 [26/Nov/2026:13:00:00.123] fe api/s1 0/0/1/12/13 200 150 - - ---- 1/1/0/0/0 0/0 "GET / HTTP/1.1"`,
			Entry{"fe", "api", "s1", 0, 0, 1, 12, 13, 200}, false},
		{"no response", `<134>1 2026-11-26T13:00:00.123Z host haproxy 12 - - 10.0.0.9:5000 [26/Nov/2026:13:00:00.123] fe~ api/s2 0/0/0/-1/10002 504 194 - - sH-- 1/1/0/0/0 0/0 "GET /slow HTTP/1.1"`,
			Entry{"fe", "api", "s2", 0, 0, 0, -1, 10002, 504}, false},
		{"logasap", `127.0.0.1:1 [26/Nov/2026:13:00:00.123] fe api/s3 1/2/3/4/+5 200 1 - - ---- 1/1/0/0/0 0/0 "GET / HTTP/1.1"`,
			Entry{"fe", "api", "s3", 1, 2, 3, 4, 5, 200}, false},
		{"no server", `127.0.0.1:1 [26/Nov/2026:13:00:00.123] fe api/<NOSRV> 0/-1/-1/-1/0 503 217 - - SC-- 1/1/0/0/0 0/0 "GET / HTTP/1.1"`,
			Entry{"fe", "api", "<NOSRV>", 0, -1, -1, -1, 0, 503}, false},
		{"startup message", `<133>Nov 26 13:00:00 haproxy[123]: Proxy fe started.`, Entry{}, true},
		{"tcplog", `127.0.0.1:1 [26/Nov/2026:13:00:00.123] fe api/s1 0/0/5 0 -- 1/1/0/0/0 0/0`, Entry{}, true},
		{"garbage timers", `127.0.0.1:1 [x] fe api/s1 a/b/c/d/e 200`, Entry{}, true},
		{"status out of range", `127.0.0.1:1 [x] fe api/s1 0/0/0/0/0 2000`, Entry{}, true},
		{"empty", ``, Entry{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseHTTPLog([]byte(tc.line))
			if (err != nil) != tc.err || got != tc.want {
				t.Errorf("ParseHTTPLog = %+v, %v; want %+v (error %v)", got, err, tc.want, tc.err)
			}
			if err != nil && !errors.Is(err, ErrNotHTTPLog) {
				t.Errorf("error %v is not ErrNotHTTPLog", err)
			}
		})
	}
}

func TestBuckets(t *testing.T) {
	prev := -1
	for ms := 0; ms <= 200_000; ms++ {
		b := bucketOf(ms)
		if b < prev || b >= nBuckets {
			t.Fatalf("bucketOf(%d) = %d after %d", ms, b, prev)
		}
		prev = b
		if v := bucketValue(b); ms < 100_000 && (v < ms || float64(v-ms) > 0.1*float64(ms)+0.5) {
			t.Fatalf("bucket of %d ms reads %d ms: over 10%% off or below", ms, v)
		}
	}
}

func TestQuantilesMatchExact(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := New(Opts{Now: func() time.Time { return now }})
	var all []int
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		ms := int(r.ExpFloat64() * 30) // long-tailed like real latency
		all = append(all, ms)
		l.Add(Entry{Backend: "api", Server: "s1", Tr: ms, Status: 200}, now)
	}
	slices.Sort(all)
	st, _ := l.Server("api", "s1")
	for _, q := range []struct {
		got  time.Duration
		rank float64
	}{{st.P50, 0.5}, {st.P95, 0.95}, {st.P99, 0.99}} {
		exact := all[int(q.rank*float64(len(all)-1))]
		got := int(q.got / time.Millisecond)
		if got < exact || float64(got-exact) > 0.1*float64(exact)+1 {
			t.Errorf("p%.0f = %d ms, exact %d ms", q.rank*100, got, exact)
		}
	}
	if st.Requests != 20000 {
		t.Errorf("requests = %d", st.Requests)
	}
}

func TestWindowSlides(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := New(Opts{Window: 60 * time.Second, Slots: 6, Now: func() time.Time { return now }})
	for i := 0; i < 100; i++ {
		l.Add(Entry{Backend: "api", Server: "s1", Tr: 500, Status: 504}, now)
	}
	now = now.Add(30 * time.Second)
	for i := 0; i < 100; i++ {
		l.Add(Entry{Backend: "api", Server: "s1", Tr: 5, Status: 200}, now)
	}
	st, _ := l.Server("api", "s1")
	if st.Requests != 200 || st.Status504 != 100 || st.P99 < 500*time.Millisecond {
		t.Errorf("within the window: %+v", st)
	}
	now = now.Add(40 * time.Second) // the slow minute has left the window
	st, _ = l.Server("api", "s1")
	if st.Requests != 100 || st.Status504 != 0 || st.P99 > 5*time.Millisecond {
		t.Errorf("after the slow slots expired: %+v", st)
	}
	now = now.Add(2 * time.Minute)
	if st, _ = l.Server("api", "s1"); st.Requests != 0 || st.P99 != 0 {
		t.Errorf("after the whole window: %+v", st)
	}
}

func TestServersAreCapped(t *testing.T) {
	l := New(Opts{MaxServers: 3})
	for i := 0; i < 10; i++ {
		l.Handle([]byte(fmt.Sprintf(`127.0.0.1:1 [x] fe api/s%d 0/0/0/1/1 200 1 - - ---- 1/1/0/0/0 0/0 "GET / HTTP/1.1"`, i)))
	}
	if n := len(l.All()); n != 3 || l.Counters().Dropped != 7 {
		t.Errorf("%d servers, %d dropped; want 3, 7", n, l.Counters().Dropped)
	}
}

// TestRealHAProxyLogs points a real HAProxy's request log at the listener.
func TestRealHAProxyLogs(t *testing.T) {
	l := New(Opts{Addr: "127.0.0.1:0"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-l.Ready()
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer fast.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(30 * time.Millisecond)
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusBadGateway)
		}
	}))
	defer slow.Close()
	h := testrig.StartHAProxy(t, testrig.HAProxyOpts{
		Servers:        []testrig.HAProxyServer{{Name: "fast", Addr: fast.Listener.Addr().String()}, {Name: "slow", Addr: slow.Listener.Addr().String()}},
		GlobalConfig:   "\tlog " + l.Addr().String() + " local0",
		DefaultsConfig: "\tlog global\n\toption httplog",
	})
	for i := 0; i < 40; i++ {
		path := "/"
		if i%10 == 1 {
			path = "/fail"
		}
		resp, err := http.Get("http://" + h.FrontendAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for l.Counters().Parsed < 40 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	s, ok := l.Server("api", "slow")
	f, _ := l.Server("api", "fast")
	if !ok || s.Requests != 20 || f.Requests != 20 {
		t.Fatalf("slow %+v, fast %+v: want 20 requests each (counters %+v)", s, f, l.Counters())
	}
	if s.P50 < 30*time.Millisecond || f.P99 >= 30*time.Millisecond {
		t.Errorf("slow p50 %v (want ≥ 30ms), fast p99 %v", s.P50, f.P99)
	}
	if n := s.Status5xx + f.Status5xx; n != 4 {
		t.Errorf("5xx = %d, want 4", n)
	}
}

func BenchmarkHandle(b *testing.B) {
	l := New(Opts{})
	line := []byte(`<134>Nov 26 13:00:00 haproxy[123]: 127.0.0.1:45678 [26/Nov/2026:13:00:00.123] fe api/s1 0/0/1/12/13 200 150 - - ---- 1/1/0/0/0 0/0 "GET / HTTP/1.1"`)
	b.ReportAllocs()
	for b.Loop() {
		l.Handle(line)
	}
}
