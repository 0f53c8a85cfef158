package apinode

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"
)

type noSleep struct{}

func (noSleep) Sleep(context.Context, time.Duration) error { return nil }

// Requests/s through the whole HTTP path at zero service time: the
// node's own overhead, the ceiling of a load test against it.
func BenchmarkServe(b *testing.B) {
	n, err := Start(b.Context(), &Opts{Sleeper: noSleep{}, Params: Params{Workers: 64}})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	url := "http://" + n.Addr() + "/api"
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r, err := c.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, r.Body)
			r.Body.Close()
			if r.StatusCode != http.StatusOK {
				b.Errorf("status %d", r.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// The model's cost per request: one ServiceTime and one AddWork.
func BenchmarkModel(b *testing.B) {
	m, err := NewModel(Params{}, t0)
	if err != nil {
		b.Fatal(err)
	}
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Millisecond)
		m.AddWork(m.ServiceTime(now))
	}
}
