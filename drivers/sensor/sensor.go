package sensor

import (
	"errors"
	"fmt"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/physic"
)

// Quantity says what a Reading measures and so how its Value is scaled.
type Quantity uint8

// Quantities, with the unit of Reading.Value for each.
const (
	Temperature Quantity = iota + 1 // physic.Temperature: nano-kelvin
	Humidity                        // physic.RelativeHumidity: 0.00001 %RH
	Pressure                        // physic.Pressure: nano-pascal
	Voltage                         // physic.ElectricPotential: nano-volt
	Current                         // physic.ElectricCurrent: nano-ampere
	Power                           // physic.Power: nano-watt
	FanSpeed                        // milli-RPM
	FanDuty                         // parts per million of full duty
	FanFault                        // 1 when the fan reports a fault, else 0
)

var quantities = [...]struct {
	name, metric, unit string
	div                float64 // Value / div = value in unit; a division keeps decimal values exact
}{
	Temperature: {"temperature", "temperature_celsius", "celsius", 1e9},
	Humidity:    {"humidity", "humidity_percent", "percent", 1e5},
	Pressure:    {"pressure", "pressure_pascals", "pascals", 1e9},
	Voltage:     {"voltage", "voltage_volts", "volts", 1e9},
	Current:     {"current", "current_amperes", "amperes", 1e9},
	Power:       {"power", "power_watts", "watts", 1e9},
	FanSpeed:    {"fan speed", "fan_speed_rpm", "rpm", 1e3},
	FanDuty:     {"fan duty", "fan_duty_ratio", "ratio", 1e6},
	FanFault:    {"fan fault", "fan_fault", "bool", 1},
}

func (q Quantity) valid() bool { return q > 0 && int(q) < len(quantities) }

// String names the quantity.
func (q Quantity) String() string {
	if !q.valid() {
		return fmt.Sprintf("quantity(%d)", q)
	}
	return quantities[q].name
}

// Metric is the catalogue metric the quantity is published as.
func (q Quantity) Metric() string {
	if !q.valid() {
		return ""
	}
	return quantities[q].metric
}

// Unit is the unit of the published value.
func (q Quantity) Unit() string {
	if !q.valid() {
		return ""
	}
	return quantities[q].unit
}

// Reading is one measured value.
type Reading struct {
	Quantity Quantity
	// Channel distinguishes several readings of one quantity on one chip,
	// such as "shunt" and "bus" voltage or "fan3"; empty for a single one.
	Channel string
	// Value is an integer in the Quantity's unit (periph's nano-units where
	// periph has a type), so drivers need no floating point.
	Value int64
}

// Float returns the value in the published unit: °C, %RH, Pa, V, A, W, RPM,
// duty ratio 0–1, or 0/1 for a fault.
func (r Reading) Float() float64 {
	if !r.Quantity.valid() {
		return 0
	}
	v := r.Value
	if r.Quantity == Temperature {
		v -= int64(physic.ZeroCelsius) // in integers, so no digit is lost
	}
	return float64(v) / quantities[r.Quantity].div
}

// String formats the reading with its unit, e.g. "fan3 fan speed: 1981 rpm".
func (r Reading) String() string {
	prefix := r.Quantity.String()
	if r.Channel != "" {
		prefix = r.Channel + " " + prefix
	}
	return fmt.Sprintf("%s: %.6g %s", prefix, r.Float(), r.Quantity.Unit())
}

// Sensor is what every driver offers the edge.
type Sensor interface {
	// Read performs one measurement and appends its readings to dst. On
	// error nothing was appended: a measurement is trusted whole or not at
	// all.
	Read(dst []Reading) ([]Reading, error)
	conn.Resource
}

// Errors drivers wrap so the fault policy can tell why a read failed.
var (
	// ErrCRC: the data failed its checksum (Sensirion CRC-8 and the like).
	ErrCRC = errors.New("sensor: checksum mismatch")
	// ErrChipID: the device at the address is not the expected chip.
	ErrChipID = errors.New("sensor: unexpected chip ID")
	// ErrImplausible: the value is outside what the chip can measure.
	ErrImplausible = errors.New("sensor: implausible value")
	// ErrNotReady: the conversion has not completed.
	ErrNotReady = errors.New("sensor: conversion not ready")
)

// Temp returns a temperature reading from a periph value.
func Temp(t physic.Temperature) Reading { return Reading{Quantity: Temperature, Value: int64(t)} }

// DivRound divides n by a positive d, rounding halves away from zero: the
// drivers' conversions from register counts to nano-units.
func DivRound(n, d int64) int64 {
	if n < 0 {
		return -((-n + d/2) / d)
	}
	return (n + d/2) / d
}
