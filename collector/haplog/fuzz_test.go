package haplog

import (
	"errors"
	"testing"
	"time"
)

// FuzzHandle feeds a syslog datagram to the listener, as HAProxy's log
// target receives it from the network. Besides not panicking: a line
// either parses into an entry with timers of at least -1 and a status of
// -1 to 999, or is refused with ErrNotHTTPLog, every datagram is counted
// once, and the percentiles stay within the histogram's 100 s range.
func FuzzHandle(f *testing.F) {
	for _, line := range []string{
		`<134>Nov 26 13:00:00 haproxy[123]: 127.0.0.1:45678 [26/Nov/2026:13:00:00.123] fe api/s1 0/0/1/12/13 200 150 - - ---- 1/1/0/0/0 0/0 "GET / HTTP/1.1"`,
		`<134>1 2026-11-26T13:00:00.123Z host haproxy 12 - - 10.0.0.9:5000 [26/Nov/2026:13:00:00.123] fe~ api/s2 0/0/0/-1/10002 504 194 - - sH-- 1/1/0/0/0 0/0 "GET /slow HTTP/1.1"`,
		`127.0.0.1:1 [26/Nov/2026:13:00:00.123] fe api/s3 1/2/3/4/+5 200 1 - - ---- 1/1/0/0/0 0/0 "GET / HTTP/1.1"`,
		`127.0.0.1:1 [26/Nov/2026:13:00:00.123] fe api/<NOSRV> 0/-1/-1/-1/0 503 217 - - SC-- 1/1/0/0/0 0/0 "GET / HTTP/1.1"`,
		`<133>Nov 26 13:00:00 haproxy[123]: Proxy fe started.`,
		`127.0.0.1:1 [26/Nov/2026:13:00:00.123] fe api/s1 0/0/5 0 -- 1/1/0/0/0 0/0`,
	} {
		f.Add([]byte(line))
	}
	now := time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseHTTPLog(b)
		if err != nil {
			if !errors.Is(err, ErrNotHTTPLog) {
				t.Fatalf("error %v is not ErrNotHTTPLog", err)
			}
		} else if min(e.TR, e.Tw, e.Tc, e.Tr, e.Ta) < -1 || e.Status < -1 || e.Status > 999 {
			t.Fatalf("entry %+v out of range", e)
		}
		l := New(Opts{MaxServers: 4, Now: func() time.Time { return now }})
		l.Handle(b)
		l.Handle(b)
		c := l.Counters()
		if c.Lines != 2 || c.Parsed+c.Ignored != 2 || (err == nil) != (c.Parsed == 2) {
			t.Fatalf("counters %+v after the same datagram twice (parse error %v)", c, err)
		}
		for _, st := range l.All() {
			if st.Requests > 2 || st.P50 > st.P95 || st.P95 > st.P99 || st.P99 > 100*time.Second {
				t.Fatalf("stats %+v from two requests", st)
			}
		}
	})
}
