package lbwatch

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/haproxy"
)

func TestStatsCountPollsAndFailures(t *testing.T) {
	t.Parallel()
	rt := &fakeRuntime{info: haproxy.Info{Pid: 10, StartTimeSec: 1000}, weights: map[string][2]int{"s1": {100, 100}}}
	in := Instance{Name: "lb1", Runtime: rt, Period: time.Second}
	w := New([]Instance{in}, time.Minute, slog.New(slog.DiscardHandler), nil)
	if st := w.Stats(); len(st) != 1 || st[0].Up || st[0].Polls != 0 {
		t.Fatalf("before any poll: %+v", st)
	}
	ctx := context.Background()
	w.Poll(ctx, in)
	rt.failOn = "show info"
	w.Poll(ctx, in)
	st := w.Stats()[0]
	if st.Name != "lb1" || st.Up || st.Polls != 2 || st.Failures != 1 || st.Duration <= 0 {
		t.Errorf("after a good and a failed poll: %+v", st)
	}
	rt.failOn = ""
	rt.info.StartTimeSec = 2000 // a restart
	w.Poll(ctx, in)
	if st := w.Stats()[0]; !st.Up || st.Polls != 3 || st.Restarts != 1 {
		t.Errorf("after a restart: %+v", st)
	}
}
