package command

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/max31790"
	"github.com/rackwatch/rackwatch/edge/sparkplug"
	pb "github.com/rackwatch/rackwatch/edge/sparkplug/sparkplugpb"
	"periph.io/x/conn/v3/gpio"
)

// newClock returns the tests' fake clock, at a fixed noon.
func newClock() *testrig.Clock {
	return testrig.NewClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
}

// settings is a fake applier: one string setting per target, and a log of
// calls.
type settings struct {
	mu      sync.Mutex
	values  map[Target]string
	calls   []string
	failing error // returned by Apply and Revert when set
}

func newSettings(initial map[Target]string) *settings {
	if initial == nil {
		initial = map[Target]string{}
	}
	return &settings{values: initial}
}

func (s *settings) Apply(_ context.Context, c Command) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, "apply "+c.ID)
	if s.failing != nil {
		return "", s.failing
	}
	if c.Device == "nowhere" {
		return "", fmt.Errorf("fake: %w", ErrUnknownTarget)
	}
	prior := s.values[c.Target()]
	s.values[c.Target()] = c.Value()
	return prior, nil
}

func (s *settings) Revert(_ context.Context, c Command, prior string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, "revert "+c.ID+" to "+prior)
	if s.failing != nil {
		return s.failing
	}
	s.values[c.Target()] = prior
	return nil
}

func (s *settings) get(t Target) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.values[t]
}

func (s *settings) log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

func (s *settings) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = err
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newManager(t *testing.T, opts Opts) *Manager {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func lb(id string, version uint64, state LBState) Command {
	return Command{ID: id, Version: version, Kind: KindLBState, Device: "lb", State: state, WeightPercent: 100}
}

func want(t *testing.T, r Result, o Outcome) {
	t.Helper()
	if r.Outcome != o {
		t.Fatalf("outcome %v, want %v (%v)", r.Outcome, o, r)
	}
}

func TestDuplicateAppliedOnce(t *testing.T) {
	t.Parallel()
	s := newSettings(nil)
	m := newManager(t, Opts{Appliers: map[Kind]Applier{KindLBState: s}})
	ctx := context.Background()
	c := lb("c1", 1, LBDrain)
	want(t, m.Handle(ctx, c), Applied)
	want(t, m.Handle(ctx, c), Duplicate)
	// A resend after a newer command is still a duplicate, not stale: the
	// collector learns the command got through.
	want(t, m.Handle(ctx, lb("c2", 2, LBReady)), Applied)
	want(t, m.Handle(ctx, c), Duplicate)
	if got, want := s.log(), []string{"apply c1", "apply c2"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("applier calls %v, want %v", got, want)
	}
	cn := m.Counters()
	if cn.Applied != 2 || cn.Duplicate != 2 {
		t.Fatalf("counters %+v", cn)
	}
}

func TestStaleVersions(t *testing.T) {
	t.Parallel()
	s := newSettings(nil)
	m := newManager(t, Opts{Appliers: map[Kind]Applier{KindLBState: s}})
	ctx := context.Background()
	want(t, m.Handle(ctx, lb("a", 12, LBDrain)), Applied)
	want(t, m.Handle(ctx, lb("b", 11, LBReady)), Stale)
	want(t, m.Handle(ctx, lb("c", 12, LBReady)), Stale) // same version, other id
	want(t, m.Handle(ctx, lb("d", 13, LBMaint)), Applied)
	// Versions are per target: another device starts afresh.
	other := lb("e", 1, LBDrain)
	other.Device = "lb2"
	want(t, m.Handle(ctx, other), Applied)
	if got := s.get(Target{Kind: KindLBState, Device: "lb"}); got != "maint 100%" {
		t.Fatalf("lb is %q, want maint", got)
	}
	if cn := m.Counters(); cn.Stale != 2 || cn.Applied != 3 {
		t.Fatalf("counters %+v", cn)
	}
}

func TestExpiredOnArrival(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := newSettings(nil)
	m := newManager(t, Opts{Appliers: map[Kind]Applier{KindLBState: s}, Now: clk.Now})
	c := lb("a", 1, LBDrain)
	c.Expires = clk.Now()
	want(t, m.Handle(context.Background(), c), Expired)
	c.ID, c.Expires = "b", clk.Now().Add(-time.Hour)
	want(t, m.Handle(context.Background(), c), Expired)
	if len(s.log()) != 0 || m.Counters().Expired != 2 || len(m.State()) != 0 {
		t.Fatalf("expired commands left traces: calls %v, state %v", s.log(), m.State())
	}
}

func TestRefusedAndFailed(t *testing.T) {
	t.Parallel()
	s := newSettings(nil)
	m := newManager(t, Opts{Appliers: map[Kind]Applier{KindLBState: s}, MaxTargets: 2})
	ctx := context.Background()

	r := m.Handle(ctx, Command{ID: "f", Version: 1, Kind: KindSensorEnable, Device: "inlet"})
	if r.Outcome != Refused || r.Reason != ReasonUnsupported {
		t.Fatalf("no applier: %v", r)
	}
	nowhere := lb("n", 1, LBDrain)
	nowhere.Device = "nowhere"
	if r := m.Handle(ctx, nowhere); r.Outcome != Refused || r.Reason != ReasonUnknownTarget {
		t.Fatalf("unknown device: %v", r)
	}
	if r := m.Handle(ctx, lb("bad id", 1, LBDrain)); r.Outcome != Refused || r.Reason != ReasonInvalid {
		t.Fatalf("invalid command: %v", r)
	}

	// A failure is the edge's, not the command's: the same id may be
	// resent and applied.
	s.fail(errors.New("i2c: NACK"))
	if r := m.Handle(ctx, lb("a", 1, LBDrain)); r.Outcome != Failed || !strings.Contains(r.Detail, "NACK") {
		t.Fatalf("failing applier: %v", r)
	}
	s.fail(nil)
	want(t, m.Handle(ctx, lb("a", 1, LBDrain)), Applied)

	other := lb("o", 1, LBDrain)
	other.Device = "lb2"
	want(t, m.Handle(ctx, other), Applied)
	other.Device, other.ID = "lb3", "p"
	if r := m.Handle(ctx, other); r.Outcome != Refused || r.Reason != ReasonTooManyTargets {
		t.Fatalf("over MaxTargets: %v", r)
	}

	// Undecodable payloads are counted by reason too.
	rs := m.HandlePayload(ctx, []byte("garbage"))
	rs = append(rs, m.HandlePayload(ctx, payload(t, metric(MetricName, pb.DataType_String, `{"id":"x","kind":"fan_duty"}`)))...)
	if len(rs) != 2 || rs[0].Reason != ReasonMalformed || rs[1].Reason != ReasonMissingField {
		t.Fatalf("HandlePayload results %v", rs)
	}
	cn := m.Counters()
	wantRefused := map[Reason]uint64{ReasonUnsupported: 1, ReasonUnknownTarget: 1, ReasonInvalid: 1, ReasonTooManyTargets: 1, ReasonMalformed: 1, ReasonMissingField: 1}
	if !reflect.DeepEqual(cn.Refused, wantRefused) || cn.Failed != 1 || cn.Applied != 2 {
		t.Fatalf("counters %+v", cn)
	}
	// Counters returns a copy.
	cn.Refused[ReasonMalformed] = 99
	if m.Counters().Refused[ReasonMalformed] != 1 {
		t.Fatal("Counters shares its map")
	}
}

func TestHandleMessage(t *testing.T) {
	t.Parallel()
	s := newSettings(nil)
	m := newManager(t, Opts{Appliers: map[Kind]Applier{KindLBState: s}})
	b := payload(t, metric(MetricName, pb.DataType_String, drainJSON))
	rs := m.HandleMessage(context.Background(), sparkplug.DeviceTopic("g", sparkplug.DCMD, "e", "other"), b)
	if len(rs) != 1 || rs[0].Reason != ReasonTopic {
		t.Fatalf("DCMD for another device: %v", rs)
	}
	rs = m.HandleMessage(context.Background(), sparkplug.DeviceTopic("g", sparkplug.DCMD, "e", "lb"), b)
	if len(rs) != 1 || rs[0].Outcome != Applied {
		t.Fatalf("DCMD for lb: %v", rs)
	}
}

func TestMaxIDs(t *testing.T) {
	t.Parallel()
	s := newSettings(nil)
	m := newManager(t, Opts{Appliers: map[Kind]Applier{KindLBState: s}, MaxIDs: 3})
	ctx := context.Background()
	for v := uint64(1); v <= 5; v++ {
		want(t, m.Handle(ctx, lb(fmt.Sprint("c", v), v, LBDrain)), Applied)
	}
	// c3–c5 are remembered; c1 has been forgotten as an id, but its
	// version still makes it stale, so memory is bounded without letting
	// an old command through.
	want(t, m.Handle(ctx, lb("c3", 3, LBDrain)), Duplicate)
	want(t, m.Handle(ctx, lb("c1", 1, LBDrain)), Stale)
	if n := len(m.targets[Target{Kind: KindLBState, Device: "lb"}].ids); n != 3 {
		t.Fatalf("%d ids remembered, want 3", n)
	}
}

// TestFanDutyExpiry overrides a real MAX31790 driver on an emulated chip:
// a chain of two overrides ends by restoring the duty set before the
// first.
func TestFanDutyExpiry(t *testing.T) {
	t.Parallel()
	bus := &i2cemu.Bus{}
	chip := i2cemu.NewMAX31790()
	chip.SetConversionTime(0)
	if err := bus.Attach(0x20, chip); err != nil {
		t.Fatal(err)
	}
	dev, err := max31790.New(bus, &max31790.Opts{Addr: 0x20, Fans: []max31790.Fan{{Channel: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := dev.SetDuty(3, gpio.DutyMax*2/5); err != nil { // what the fans run at before the collector acts
		t.Fatal(err)
	}
	before, _ := dev.TargetDuty(3)

	clk := newClock()
	m := newManager(t, Opts{Appliers: map[Kind]Applier{KindFanDuty: FanDuty{"fans": dev}}, Now: clk.Now, StatePath: filepath.Join(t.TempDir(), "state.json")})
	ctx := context.Background()
	duty := func() gpio.Duty {
		d, err := dev.TargetDuty(3)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	c := Command{ID: "c-7f3a", Version: 12, Kind: KindFanDuty, Device: "fans", Channel: 3, Duty: 0.8, Expires: clk.Now().Add(time.Minute)}
	want(t, m.Handle(ctx, c), Applied)
	// The chip keeps 9 bits of duty: 80 % reads back within one step.
	if d := duty(); d-dutyOf(0.8) > gpio.DutyMax/511 || dutyOf(0.8)-d > gpio.DutyMax/511 {
		t.Fatalf("duty %v after the override, want about 80%%", d)
	}
	clk.Add(30 * time.Second)
	m.Tick(ctx)
	if d := duty(); d == before {
		t.Fatal("override reverted before it expired")
	}
	// A second override before the first expires extends the chain.
	c2 := Command{ID: "c-7f3b", Version: 13, Kind: KindFanDuty, Device: "fans", Channel: 3, Duty: 1, Expires: clk.Now().Add(time.Minute)}
	want(t, m.Handle(ctx, c2), Applied)
	clk.Add(31 * time.Second) // past the first expiry, not the second
	m.Tick(ctx)
	if d := duty(); d != gpio.DutyMax {
		t.Fatalf("duty %v, want 100%% until the second override expires", d)
	}
	clk.Add(30 * time.Second)
	m.Tick(ctx)
	if d := duty(); d != before {
		t.Fatalf("duty %v after expiry, want %v, the duty before the overrides", d, before)
	}
	st := m.State()
	if len(st) != 1 || st[0].Active || st[0].Version != 13 || st[0].ID != "c-7f3b" || st[0].Value != "1" {
		t.Fatalf("state %+v", st)
	}
	if cn := m.Counters(); cn.Reverted != 1 || cn.Applied != 2 {
		t.Fatalf("counters %+v", cn)
	}
	// Tick is idempotent once reverted; a stale resend stays stale.
	m.Tick(ctx)
	want(t, m.Handle(ctx, Command{ID: "old", Version: 12, Kind: KindFanDuty, Device: "fans", Channel: 3, Duty: 0, Expires: clk.Now().Add(time.Hour)}), Stale)
	if d := duty(); d != before {
		t.Fatalf("duty %v changed after revert", d)
	}
	// Unknown fan controllers are refused, not failed.
	if r := m.Handle(ctx, Command{ID: "x", Version: 1, Kind: KindFanDuty, Device: "other", Channel: 1, Duty: 0, Expires: clk.Now().Add(time.Hour)}); r.Reason != ReasonUnknownTarget {
		t.Fatalf("unknown controller: %v", r)
	}
}

func TestRevertRetried(t *testing.T) {
	t.Parallel()
	clk := newClock()
	tgt := Target{Kind: KindLBState, Device: "lb"}
	s := newSettings(map[Target]string{tgt: "ready 100%"})
	m := newManager(t, Opts{Appliers: map[Kind]Applier{KindLBState: s}, Now: clk.Now})
	ctx := context.Background()
	c := lb("a", 1, LBDrain)
	c.Expires = clk.Now().Add(time.Second)
	want(t, m.Handle(ctx, c), Applied)
	clk.Add(time.Second)
	s.fail(errors.New("busy"))
	m.Tick(ctx)
	m.Tick(ctx)
	if got := s.get(tgt); got != "drain 100%" {
		t.Fatalf("after failed reverts the target is %q", got)
	}
	s.fail(nil)
	m.Tick(ctx)
	if got := s.get(tgt); got != "ready 100%" {
		t.Fatalf("after the retry the target is %q, want the prior", got)
	}
	if cn := m.Counters(); cn.RevertFailed != 2 || cn.Reverted != 1 {
		t.Fatalf("counters %+v", cn)
	}
}

func TestRestart(t *testing.T) {
	t.Parallel()
	clk := newClock()
	path := filepath.Join(t.TempDir(), "commands.json")
	tgt := Target{Kind: KindLBState, Device: "lb"}
	s := newSettings(map[Target]string{tgt: "ready 100%"})
	ctx := context.Background()
	m := newManager(t, Opts{StatePath: path, Appliers: map[Kind]Applier{KindLBState: s}, Now: clk.Now})
	c := lb("a", 12, LBDrain)
	c.Expires = clk.Now().Add(time.Hour)
	want(t, m.Handle(ctx, c), Applied)
	perm := lb("p", 3, LBMaint)
	perm.Device = "lb2"
	want(t, m.Handle(ctx, perm), Applied)

	// The edge restarts: the responders come back in their configured state.
	s2 := newSettings(map[Target]string{tgt: "ready 100%"})
	m2 := newManager(t, Opts{StatePath: path, Appliers: map[Kind]Applier{KindLBState: s2}, Now: clk.Now})
	if got, want := m2.State(), m.State(); !sameState(got, want) {
		t.Fatalf("state after restart:\n got %+v\nwant %+v", got, want)
	}
	if err := m2.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s2.get(tgt); got != "drain 100%" {
		t.Fatalf("after Restore the target is %q, want the active override", got)
	}
	want(t, m2.Handle(ctx, lb("b", 11, LBReady)), Stale)
	want(t, m2.Handle(ctx, lb("c", 12, LBReady)), Stale)
	want(t, m2.Handle(ctx, c), Duplicate)
	// Expiry restores the prior read before the restart, not what Restore
	// found (the override itself on hardware that kept it).
	clk.Add(time.Hour)
	m2.Tick(ctx)
	if got := s2.get(tgt); got != "ready 100%" {
		t.Fatalf("after expiry the target is %q", got)
	}
	want(t, m2.Handle(ctx, lb("d", 13, LBReady)), Applied)

	// An override that expired while the edge was down is reverted by Restore.
	s3 := newSettings(nil)
	m3 := newManager(t, Opts{StatePath: path, Appliers: map[Kind]Applier{KindLBState: s3}, Now: clk.Now})
	c4 := lb("e", 14, LBDrain)
	c4.Expires = clk.Now().Add(time.Minute)
	want(t, m3.Handle(ctx, c4), Applied)
	clk.Add(2 * time.Minute)
	s4 := newSettings(nil)
	m4 := newManager(t, Opts{StatePath: path, Appliers: map[Kind]Applier{KindLBState: s4}, Now: clk.Now})
	if err := m4.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := s4.log(), []string{"revert e to ready 100%", "apply p"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Restore calls %v, want %v", got, want)
	}
	m5 := newManager(t, Opts{StatePath: path, Now: clk.Now})
	for _, st := range m5.State() {
		if st.Target == tgt && st.Active {
			t.Fatal("the revert at Restore was not persisted")
		}
	}
}

// sameState compares states at the millisecond precision of the file.
func sameState(a, b []TargetState) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if !x.AppliedAt.Truncate(time.Millisecond).Equal(y.AppliedAt.Truncate(time.Millisecond)) {
			return false
		}
		x.AppliedAt, y.AppliedAt = time.Time{}, time.Time{}
		if x != y {
			return false
		}
	}
	return true
}

func TestCorruptState(t *testing.T) {
	t.Parallel()
	good := `{"command":` + drainJSON + `,"ids":["l-1"],"applied_at":1795694340000,"active":true}`
	tests := []struct {
		name, content, want string
	}{
		{"garbage", "\x00\x01 not json", "corrupt state"},
		{"truncated", `{"format":1,"targets":[` + good, "corrupt state"},
		{"other format", `{"format":2,"targets":[]}`, "format 2"},
		{"unknown key", `{"format":1,"targets":[],"extra":1}`, "unknown field"},
		{"bad command", `{"format":1,"targets":[{"command":{"id":"x"},"ids":["x"],"applied_at":1,"active":false}]}`, "missing_field"},
		{"ids disagree", `{"format":1,"targets":[{"command":` + drainJSON + `,"ids":["other"],"applied_at":1,"active":false}]}`, "ids do not end"},
		{"target twice", `{"format":1,"targets":[` + good + `,` + good + `]}`, "twice"},
		{"no applied_at", `{"format":1,"targets":[{"command":` + drainJSON + `,"ids":["l-1"],"active":false}]}`, "applied_at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "commands.json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := New(Opts{StatePath: path, Logger: quiet()})
			if err == nil {
				t.Fatal("New accepted a corrupt state file")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q should name %s and say %q", err, path, tt.want)
			}
		})
	}
	// The good record on its own loads.
	path := filepath.Join(t.TempDir(), "commands.json")
	if err := os.WriteFile(path, []byte(`{"format":1,"targets":[`+good+`]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := New(Opts{StatePath: path, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if st := m.State(); len(st) != 1 || st[0].ID != "l-1" || !st[0].Active {
		t.Fatalf("state %+v", st)
	}
}

func TestStateFileUnwritable(t *testing.T) {
	t.Parallel()
	s := newSettings(nil)
	path := filepath.Join(t.TempDir(), "missing-dir", "commands.json")
	m := newManager(t, Opts{StatePath: path, Appliers: map[Kind]Applier{KindLBState: s}})
	r := m.Handle(context.Background(), lb("a", 1, LBDrain))
	if r.Outcome != Applied || r.Detail == "" {
		t.Fatalf("result %v: the command took effect, and the failure to save should be reported", r)
	}
	if m.Counters().PersistFailed != 1 {
		t.Fatalf("counters %+v", m.Counters())
	}
}

func TestRunStops(t *testing.T) {
	t.Parallel()
	clk := newClock()
	tgt := Target{Kind: KindLBState, Device: "lb"}
	s := newSettings(map[Target]string{tgt: "ready 100%"})
	m := newManager(t, Opts{Appliers: map[Kind]Applier{KindLBState: s}, Now: clk.Now, TickEvery: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	c := lb("a", 1, LBDrain)
	c.Expires = clk.Now().Add(time.Second)
	want(t, m.Handle(ctx, c), Applied)
	clk.Add(time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for s.get(tgt) != "ready 100%" {
		if time.Now().After(deadline) {
			t.Fatal("Run did not revert the expired override")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}
