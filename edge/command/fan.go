package command

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"periph.io/x/conn/v3/gpio"
)

// DutyController is what a fan_duty override needs of a fan controller;
// *max31790.Dev implements it.
type DutyController interface {
	// TargetDuty returns the duty channel ch (1–6) is set to.
	TargetDuty(ch int) (gpio.Duty, error)
	SetDuty(ch int, d gpio.Duty) error
}

// FanDuty applies fan_duty commands to the fan controllers it maps by
// device name. The prior it keeps is the channel's target duty before the
// override, as a gpio.Duty in decimal, so expiry restores exactly what the
// controller had, whether the fan was set by the BMC, firmware or a
// previous configuration.
type FanDuty map[string]DutyController

var _ Applier = FanDuty(nil)

// Apply implements Applier.
func (f FanDuty) Apply(_ context.Context, c Command) (string, error) {
	d, ok := f[c.Device]
	if !ok || c.Kind != KindFanDuty {
		return "", fmt.Errorf("command: fan controller %q: %w", c.Device, ErrUnknownTarget)
	}
	prior, err := d.TargetDuty(c.Channel)
	if err != nil {
		return "", fmt.Errorf("command: read duty of %s channel %d: %w", c.Device, c.Channel, err)
	}
	if err := d.SetDuty(c.Channel, dutyOf(c.Duty)); err != nil {
		return "", fmt.Errorf("command: set duty of %s channel %d: %w", c.Device, c.Channel, err)
	}
	return strconv.FormatInt(int64(prior), 10), nil
}

// Revert implements Applier.
func (f FanDuty) Revert(_ context.Context, c Command, prior string) error {
	d, ok := f[c.Device]
	if !ok {
		return fmt.Errorf("command: fan controller %q: %w", c.Device, ErrUnknownTarget)
	}
	n, err := strconv.ParseInt(prior, 10, 32)
	if err != nil || !gpio.Duty(n).Valid() {
		return fmt.Errorf("command: restore duty of %s channel %d: prior %q is not a duty", c.Device, c.Channel, prior)
	}
	if err := d.SetDuty(c.Channel, gpio.Duty(n)); err != nil {
		return fmt.Errorf("command: restore duty of %s channel %d: %w", c.Device, c.Channel, err)
	}
	return nil
}

// dutyOf converts a ratio (0–1, validated) to a periph duty.
func dutyOf(r float64) gpio.Duty { return gpio.Duty(math.Round(r * float64(gpio.DutyMax))) }
