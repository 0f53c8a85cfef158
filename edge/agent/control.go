package agent

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rackwatch/rackwatch/edge/command"
	"periph.io/x/conn/v3/gpio"
)

// Controls let commands from the collector reach the running sources: a
// source can be disabled, and its period overridden, without a restart.
// The zero value is ready to use; sources without an entry run as
// configured.
type Controls struct {
	mu       sync.Mutex
	byDevice map[string]*control
}

type control struct {
	disabled atomic.Bool
	period   atomic.Int64 // nanoseconds; 0 = the configured period
}

func (c *Controls) get(device string) *control {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byDevice == nil {
		c.byDevice = map[string]*control{}
	}
	ctl := c.byDevice[device]
	if ctl == nil {
		ctl = &control{}
		c.byDevice[device] = ctl
	}
	return ctl
}

func (c *Controls) lookup(device string) (*control, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ctl, ok := c.byDevice[device]
	return ctl, ok
}

// register makes a source reachable by commands.
func (c *Controls) register(s Source) {
	if c != nil {
		c.get(s.Device())
	}
}

// Unregister forgets a device that is no longer configured: commands for
// it are refused as for an unknown target. A source rebuilt under the same
// device name keeps its entry, and so its command overrides.
func (c *Controls) Unregister(device string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.byDevice, device)
}

// period returns the period in force for s.
func (c *Controls) period(s Source) time.Duration {
	if ctl, ok := c.lookup(s.Device()); ok {
		if p := ctl.period.Load(); p > 0 {
			return time.Duration(p)
		}
	}
	return s.Period()
}

func (c *Controls) enabled(s Source) bool {
	ctl, ok := c.lookup(s.Device())
	return !ok || !ctl.disabled.Load()
}

// SensorEnable is the command.Applier of sensor_enable commands.
func (c *Controls) SensorEnable() command.Applier { return sensorEnable{c} }

// PollPeriod is the command.Applier of poll_period commands.
func (c *Controls) PollPeriod() command.Applier { return pollPeriod{c} }

type sensorEnable struct{ c *Controls }

func (a sensorEnable) Apply(_ context.Context, cmd command.Command) (string, error) {
	ctl, ok := a.c.lookup(cmd.Device)
	if !ok {
		return "", fmt.Errorf("agent: source %q: %w", cmd.Device, command.ErrUnknownTarget)
	}
	prior := !ctl.disabled.Load()
	ctl.disabled.Store(!cmd.Enabled)
	return strconv.FormatBool(prior), nil
}

func (a sensorEnable) Revert(_ context.Context, cmd command.Command, prior string) error {
	ctl, ok := a.c.lookup(cmd.Device)
	on, err := strconv.ParseBool(prior)
	if !ok || err != nil {
		return fmt.Errorf("agent: restore %q enabled=%q: %w", cmd.Device, prior, command.ErrUnknownTarget)
	}
	ctl.disabled.Store(!on)
	return nil
}

type pollPeriod struct{ c *Controls }

func (a pollPeriod) Apply(_ context.Context, cmd command.Command) (string, error) {
	ctl, ok := a.c.lookup(cmd.Device)
	if !ok {
		return "", fmt.Errorf("agent: source %q: %w", cmd.Device, command.ErrUnknownTarget)
	}
	prior := time.Duration(ctl.period.Swap(int64(cmd.Period)))
	return prior.String(), nil
}

func (a pollPeriod) Revert(_ context.Context, cmd command.Command, prior string) error {
	ctl, ok := a.c.lookup(cmd.Device)
	d, err := time.ParseDuration(prior)
	if !ok || err != nil {
		return fmt.Errorf("agent: restore %q period %q: %w", cmd.Device, prior, command.ErrUnknownTarget)
	}
	ctl.period.Store(int64(d))
	return nil
}

// FanControllers returns, by sensor name, the fan controllers among the
// sources, for fan_duty commands.
func FanControllers(sources []Source) command.FanDuty {
	f := command.FanDuty{}
	for _, s := range sources {
		if src, ok := s.(*I2CSource); ok && src.Chip.Takes("fans") {
			f[src.Name] = fanController{src}
		}
	}
	return f
}

// fanController reaches the driver of a fan controller source, opening it
// if the source has not read it yet.
type fanController struct{ src *I2CSource }

func (f fanController) dev() (command.DutyController, error) {
	s := f.src
	if s.lazy == nil {
		s.lazy = &lazySensor{src: s}
	}
	if s.lazy.dev == nil {
		d, err := s.Chip.Open(s.Bus, s.Addr, s.Params)
		if err != nil {
			return nil, err
		}
		s.lazy.dev = d
	}
	dc, ok := s.lazy.dev.(command.DutyController)
	if !ok {
		return nil, fmt.Errorf("agent: %s is not a fan controller: %w", s.Name, command.ErrUnknownTarget)
	}
	return dc, nil
}

func (f fanController) TargetDuty(ch int) (gpio.Duty, error) {
	f.src.mu.Lock()
	defer f.src.mu.Unlock()
	d, err := f.dev()
	if err != nil {
		return 0, err
	}
	return d.TargetDuty(ch)
}

func (f fanController) SetDuty(ch int, duty gpio.Duty) error {
	f.src.mu.Lock()
	defer f.src.mu.Unlock()
	d, err := f.dev()
	if err != nil {
		return err
	}
	return d.SetDuty(ch, duty)
}
