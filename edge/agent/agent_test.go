package agent

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/drivers/chips"
	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/sensor"
	"github.com/rackwatch/rackwatch/edge/sample"
	"periph.io/x/conn/v3/i2c"
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
	Run(ctx, []Source{fast, flaky}, sink, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)

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

func i2cSource(t *testing.T) (*I2CSource, *i2cemu.Bus, *i2cemu.TMP102, *int) {
	bus := &i2cemu.Bus{}
	chip := i2cemu.NewTMP102()
	chip.SetConversionTime(0)
	if err := bus.Attach(0x48, chip); err != nil {
		t.Fatal(err)
	}
	reopened := 0
	shared, err := NewSharedBus("emu", func() (i2c.BusCloser, error) { reopened++; return nopCloser{bus}, nil }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	reopened = 0
	c, err := chips.Lookup("tmp102")
	if err != nil {
		t.Fatal(err)
	}
	src := &I2CSource{Name: "inlet", Chip: c, Addr: 0x48, Bus: shared, Interval: time.Second, Now: time.Now,
		Policy: &sensor.Policy{FaultAfter: 2, BackoffMin: time.Nanosecond}}
	return src, bus, chip, &reopened
}

// values returns the temperature and status a collection published.
func values(t *testing.T, ss []sample.Sample) (temp *float64, status uint64) {
	t.Helper()
	for _, s := range ss {
		switch s.Metric {
		case sample.TemperatureCelsius:
			v := s.Value.Float()
			temp = &v
			if s.Labels.Get("sensor") != "inlet" {
				t.Errorf("labels %v", s.Labels)
			}
		case sample.SensorStatus:
			status = s.Value.Uint()
		}
	}
	return temp, status
}

func TestI2CSourceFaultPolicy(t *testing.T) {
	src, bus, chip, reopened := i2cSource(t)
	chip.SetTemperature(physic.ZeroCelsius + 31*physic.Kelvin)
	ss, err := src.Collect(context.Background())
	if temp, st := values(t, ss); err != nil || temp == nil || *temp != 31 || st != 0 {
		t.Fatalf("first read: %v, status %d, err %v", temp, st, err)
	}
	bus.SetFault(0x48, i2cemu.ErrNACK) // the sensor stops answering
	for i, want := range []uint64{1, 2} {
		ss, err = src.Collect(context.Background())
		temp, st := values(t, ss)
		if !errors.Is(err, i2cemu.ErrNACK) || temp != nil || st != want {
			t.Errorf("failing read %d: temp %v status %d err %v; want no value, status %d", i, temp, st, err, want)
		}
	}
	if *reopened != 1 {
		t.Errorf("bus reopened %d times when the sensor faulted, want 1", *reopened)
	}
	// Back, after a power cycle that reset it: the source configures it again.
	bus.SetFault(0x48, nil)
	chip.SetTemperature(physic.ZeroCelsius - 10*physic.Kelvin)
	time.Sleep(time.Millisecond) // past the guard's backoff
	ss, err = src.Collect(context.Background())
	if temp, st := values(t, ss); err != nil || temp == nil || *temp != -10 || st != 0 {
		t.Errorf("after recovery: %v, status %d, err %v; want -10 °C, ok", temp, st, err)
	}
	if err := src.Close(); err != nil {
		t.Error(err)
	}
}
