package apinode

import (
	"math"
	"testing"
	"time"

	"periph.io/x/conn/v3/physic"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestModel(t *testing.T) {
	t.Parallel()
	type want struct {
		minC, maxC   float64
		throttled    bool
		minEv, maxEv uint64
		service      time.Duration
		frequencyMHz int64
	}
	tests := []struct {
		name  string
		setup func(m *Model)
		run   time.Duration
		// then, when set, changes inputs after run and runs as long again.
		then func(m *Model, now time.Time)
		want want
	}{
		{
			name: "idle steady state", run: 10 * time.Minute,
			want: want{minC: 36.99, maxC: 37.01, service: 5 * time.Millisecond, frequencyMHz: 2400},
		},
		{
			// 37 → 72 °C with τ = 15 s: 72 − 35/e after one τ.
			name: "full load after one time constant", run: 15 * time.Second,
			setup: func(m *Model) { m.SetBackgroundLoad(t0, 1) },
			want:  want{minC: 72 - 35/math.E - 0.01, maxC: 72 - 35/math.E + 0.01, service: 5 * time.Millisecond, frequencyMHz: 2400},
		},
		{
			name: "full load steady state", run: 10 * time.Minute,
			setup: func(m *Model) { m.SetBackgroundLoad(t0, 1) },
			want:  want{minC: 71.99, maxC: 72.01, service: 5 * time.Millisecond, frequencyMHz: 2400},
		},
		{
			// 109.5 °C unthrottled, 83.25 °C throttled: PROCHOT cycles
			// around 92–95 °C, each cycle an event.
			name: "hot node cycles through throttling", run: 10 * time.Minute,
			setup: func(m *Model) { m.SetBackgroundLoad(t0, 1); m.SetHeat(t0, 150) },
			want:  want{minC: 91.5, maxC: 95.5, minEv: 20, maxEv: 2000},
		},
		{
			// 45 °C inlet and 30 % cooling: even throttled the steady
			// state is far above the limit, so the CPU stays throttled and
			// counts one event per second.
			name: "cooling failure holds the CPU throttled", run: 10 * time.Minute,
			setup: func(m *Model) { m.SetBackgroundLoad(t0, 1); m.SetInlet(t0, 45); m.SetCooling(t0, 0.3) },
			want:  want{minC: 124.1, maxC: 124.2, throttled: true, minEv: 590, maxEv: 610, service: 10 * time.Millisecond, frequencyMHz: 1200},
		},
		{
			name: "recovery", run: 10 * time.Minute,
			setup: func(m *Model) { m.SetBackgroundLoad(t0, 1); m.SetInlet(t0, 45); m.SetCooling(t0, 0.3) },
			then: func(m *Model, now time.Time) {
				m.SetInlet(now, 22)
				m.SetCooling(now, 1)
			},
			want: want{minC: 71.9, maxC: 72.1, minEv: 590, maxEv: 610, service: 5 * time.Millisecond, frequencyMHz: 2400},
		},
		{
			// Eight workers busy for the whole interval are full load.
			name: "served work heats like load", run: 10 * time.Minute,
			setup: func(m *Model) { m.AddWork(8 * 10 * time.Minute) },
			want:  want{minC: 71.99, maxC: 72.01, service: 5 * time.Millisecond, frequencyMHz: 2400},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := NewModel(Params{}, t0)
			if err != nil {
				t.Fatal(err)
			}
			if tt.setup != nil {
				tt.setup(m)
			}
			end := t0.Add(tt.run)
			if tt.then != nil {
				m.State(end)
				tt.then(m, end)
				end = end.Add(tt.run)
			}
			st := m.State(end)
			w := tt.want
			if c := st.CPU.Celsius(); c < w.minC || c > w.maxC {
				t.Errorf("CPU %.3f °C, want %.2f..%.2f", c, w.minC, w.maxC)
			}
			if st.Throttles < w.minEv || st.Throttles > w.maxEv {
				t.Errorf("%d throttle events, want %d..%d", st.Throttles, w.minEv, w.maxEv)
			}
			if w.service != 0 {
				if st.Throttled != w.throttled {
					t.Errorf("throttled %v, want %v", st.Throttled, w.throttled)
				}
				if st.ServiceTime != w.service {
					t.Errorf("service time %v, want %v", st.ServiceTime, w.service)
				}
				if f := int64(st.Frequency / physic.MegaHertz); f != w.frequencyMHz {
					t.Errorf("frequency %d MHz, want %d", f, w.frequencyMHz)
				}
			}
		})
	}
}

// Reading the model often or rarely gives the same trajectory: inputs are
// integrated in fixed steps whatever the readers do.
func TestModelReadCadence(t *testing.T) {
	t.Parallel()
	a, _ := NewModel(Params{}, t0)
	b, _ := NewModel(Params{}, t0)
	for _, m := range []*Model{a, b} {
		m.SetBackgroundLoad(t0, 1)
		m.SetHeat(t0, 150)
	}
	for s := 1; s <= 300; s++ {
		a.State(t0.Add(time.Duration(s) * time.Second))
	}
	sa, sb := a.State(t0.Add(300*time.Second)), b.State(t0.Add(300*time.Second))
	if math.Abs(sa.CPU.Celsius()-sb.CPU.Celsius()) > 1e-6 || sa.Throttles != sb.Throttles || sa.Throttled != sb.Throttled {
		t.Errorf("read every second: %+v\nread once: %+v", sa, sb)
	}
	// Time going backwards changes nothing.
	if st := a.State(t0); st.At != sa.At || st.CPU != sa.CPU {
		t.Errorf("a read in the past moved the model: %+v", st)
	}
}

func TestParams(t *testing.T) {
	t.Parallel()
	for _, p := range []Params{
		{ThrottleRatio: 1.5},
		{ThermalResistance: -1},
		{TimeConstant: -time.Second},
		{Workers: -1},
		{BaseFrequency: 4000 * physic.MegaHertz, MaxFrequency: 3000 * physic.MegaHertz},
	} {
		if _, err := NewModel(p, t0); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
}
