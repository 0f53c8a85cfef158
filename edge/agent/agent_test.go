package agent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/edge/sample"
	"periph.io/x/conn/v3/physic"
)

type recSink struct {
	mu    sync.Mutex
	got   map[string][]sample.Sample
	calls map[string]int
}

func (r *recSink) Enqueue(device string, s []sample.Sample) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got[device] = append(r.got[device], s...)
	r.calls[device]++
	return nil
}

func (r *recSink) snapshot(device string) ([]sample.Sample, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sample.Sample(nil), r.got[device]...), r.calls[device]
}

type countSource struct {
	name   string
	period time.Duration
	mu     sync.Mutex
	n      int
	fail   func(n int) bool
	closed bool
}

func (c *countSource) Device() string        { return c.name }
func (c *countSource) Period() time.Duration { return c.period }
func (c *countSource) Close() error          { c.mu.Lock(); c.closed = true; c.mu.Unlock(); return nil }
func (c *countSource) Collect(context.Context) ([]sample.Sample, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if c.fail != nil && c.fail(c.n) {
		return nil, errors.New("device gone")
	}
	return []sample.Sample{{Metric: "m", Value: sample.Uint(uint64(c.n)), TS: time.Now()}}, nil
}

func TestRunSchedulesEverySourceAndSurvivesFailures(t *testing.T) {
	fast := &countSource{name: "fast", period: 20 * time.Millisecond}
	flaky := &countSource{name: "flaky", period: 20 * time.Millisecond, fail: func(n int) bool { return n%2 == 0 }}
	sink := &recSink{got: map[string][]sample.Sample{}, calls: map[string]int{}}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	Run(ctx, []Source{fast, flaky}, sink, slog.New(slog.NewTextHandler(io.Discard, nil)))

	got, calls := sink.snapshot("fast")
	// 500 ms at 20 ms ±10 %: about 25 collections.
	if calls < 15 || calls > 30 {
		t.Errorf("fast source collected %d times in 500 ms at a 20 ms period", calls)
	}
	for i, s := range got {
		if s.Value.Uint() != uint64(i+1) {
			t.Fatalf("sample %d has value %d: collections lost or reordered", i, s.Value.Uint())
		}
	}
	if fs, _ := sink.snapshot("flaky"); len(fs) < 5 {
		t.Errorf("flaky source delivered %d samples; failures must not stop it", len(fs))
	}
	if !fast.closed || !flaky.closed {
		t.Error("sources not closed when Run returned")
	}
}

func TestTMP102SourceReprobesAfterAFault(t *testing.T) {
	bus := &i2cemu.Bus{}
	chip := i2cemu.NewTMP102()
	chip.SetConversionTime(0)
	chip.SetTemperature(physic.ZeroCelsius + 31*physic.Kelvin)
	if err := bus.Attach(0x48, chip); err != nil {
		t.Fatal(err)
	}
	src := &TMP102Source{Name: "inlet", Bus: bus, Interval: time.Second, Now: time.Now}
	src.Opts.Addr = 0x48
	read := func() (float64, error) {
		s, err := src.Collect(context.Background())
		if err != nil {
			return 0, err
		}
		if len(s) != 1 || s[0].Metric != sample.TemperatureCelsius || s[0].Labels.Get("sensor") != "inlet" {
			t.Fatalf("samples = %+v", s)
		}
		return s[0].Value.Float(), nil
	}
	if v, err := read(); err != nil || v != 31 {
		t.Fatalf("read = %v, %v; want 31", v, err)
	}
	bus.FailNext(0x48, 1, nil)
	if _, err := read(); !errors.Is(err, i2cemu.ErrNACK) {
		t.Errorf("fault: err = %v, want a NACK", err)
	}
	chip.SetTemperature(physic.ZeroCelsius - 10*physic.Kelvin)
	if v, err := read(); err != nil || v != -10 {
		t.Errorf("after the fault: %v, %v; want -10 (the chip probed again)", v, err)
	}
	if err := src.Close(); err != nil {
		t.Error(err)
	}
}
