package lm75

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rackwatch/rackwatch/drivers/sensor"
	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// Register pointers (NXP LM75B §7.4 Table 5; TI SNIS153 "Pointer
// Register"). The pointer's upper bits must be 0 on every part.
const (
	regTemp byte = 0x00
	regConf byte = 0x01
)

// Configuration register bits (NXP LM75B §7.4.2 Table 8; TI SNIS153
// "Configuration Register"). The register is one byte.
const (
	confShutdown byte = 1 << 0
	// confReserved are B7–B5: reserved on the NXP parts, production test
	// bits that "must be kept zero" on the TI/National ones. Both power up
	// with the whole register at 0.
	confReserved byte = 0xE0
)

// Variant is the temperature register format, which differs between parts
// sold under the same name: the National/TI LM75, LM75A, LM75B and LM75C
// have 9 bits, the NXP LM75B and LM75A have 11.
type Variant uint8

// Variants. The zero Variant selects LM75: reading an 11-bit part with 9
// bits only drops precision, while reading a 9-bit part with 11 bits would
// include the undefined bits D6–D0 of its temperature register.
const (
	// LM75 reads 9 bits, 0.5 °C steps: any LM75-family part. The Linux
	// lm75 driver calls it "lm75" or "lm75a".
	LM75 Variant = iota + 1
	// LM75B reads 11 bits, 0.125 °C steps: the NXP LM75B and LM75A. The
	// Linux lm75 driver calls it "lm75b".
	LM75B
)

// Conversion times. The National/TI 9-bit parts convert in 100 ms typical,
// 300 ms maximum (SNIS153 "Temperature-to-Digital Converter
// Characteristics"). On the NXP parts a read never interrupts a
// conversion (NXP LM75B §1); the Linux lm75 driver, whose sample times
// were brought in line with the datasheets in Linux 5.4 (they were 500 ms
// and 250 ms before), gives "lm75b" a new result every 100 ms.
const (
	ConversionTimeLM75  = 300 * time.Millisecond
	ConversionTimeLM75B = 100 * time.Millisecond
)

func (v Variant) valid() bool { return v == LM75 || v == LM75B }

// bits is the number of significant bits in the temperature register.
func (v Variant) bits() uint {
	if v == LM75B {
		return 11
	}
	return 9
}

// Step is one LSB of the temperature register: 0.5 °C or 0.125 °C.
func (v Variant) Step() physic.Temperature {
	return physic.Kelvin >> (v.bits() - 8)
}

// ConversionTime is how long New and a wake-up from Halt wait for the
// first conversion.
func (v Variant) ConversionTime() time.Duration {
	if v == LM75B {
		return ConversionTimeLM75B
	}
	return ConversionTimeLM75
}

// String returns the chip name the Linux lm75 driver uses for the format:
// "lm75" or "lm75b".
func (v Variant) String() string {
	switch v {
	case 0, LM75:
		return "lm75"
	case LM75B:
		return "lm75b"
	}
	return fmt.Sprintf("variant(%d)", uint8(v))
}

// ParseVariant returns the Variant for a Linux lm75 device name: "lm75"
// and "lm75a" are 9-bit, "lm75b" is 11-bit. An NXP LM75A, which the kernel
// reads as 9-bit too, gives 0.125 °C steps with "lm75b".
func ParseVariant(name string) (Variant, error) {
	switch name {
	case "lm75", "lm75a":
		return LM75, nil
	case "lm75b":
		return LM75B, nil
	}
	return 0, fmt.Errorf("lm75: unknown variant %q (want lm75, lm75a or lm75b)", name)
}

// doSleep is replaced in tests to observe and skip conversion waits.
var doSleep = time.Sleep

// Opts configures a Dev.
type Opts struct {
	// Addr is the 7-bit address, 0x48 to 0x4F depending on pins A2–A0.
	Addr uint16
	// Variant is the temperature register format; zero means LM75.
	Variant Variant
}

// DefaultOpts is the configuration New uses when opts is nil: the address
// with A2–A0 tied to ground, read as a 9-bit LM75.
var DefaultOpts = Opts{Addr: 0x48, Variant: LM75}

// Dev is an LM75 on an I²C bus. It is safe for concurrent use.
type Dev struct {
	c       i2c.Dev
	variant Variant

	mu     sync.Mutex // serialises bus access and guards conf, halted and the buffers
	conf   byte       // configuration New left, shutdown clear
	halted bool
	w      [2]byte // transfer buffers, so a read does not allocate
	r      [2]byte

	cont sensor.Continuous // the SenseContinuous loop
}

// New checks that the configuration register of the device at opts.Addr
// has the reserved bits of an LM75 clear, takes the sensor out of
// shutdown if needed and waits one conversion time so the first reading
// is a real conversion. A nil opts means DefaultOpts. The driver does not
// take ownership of bus.
//
// The check rejects some other chips (a TMP102 at the same address reads
// its configuration MSB as 0x60) but does not identify an LM75: the LM75
// has no ID register.
func New(bus i2c.Bus, opts *Opts) (*Dev, error) {
	if bus == nil {
		return nil, errors.New("lm75: nil bus")
	}
	if opts == nil {
		opts = &DefaultOpts
	}
	if opts.Addr < 0x48 || opts.Addr > 0x4F {
		return nil, fmt.Errorf("lm75: address %#x out of range 0x48-0x4f", opts.Addr)
	}
	v := opts.Variant
	if v == 0 {
		v = LM75
	}
	if !v.valid() {
		return nil, fmt.Errorf("lm75: unknown variant %d", opts.Variant)
	}
	d := &Dev{c: i2c.Dev{Bus: bus, Addr: opts.Addr}, variant: v}
	conf, err := d.readConf()
	if err != nil {
		return nil, err
	}
	// Writing to a foreign chip could change something that is not a
	// sensor; refuse before the first write.
	if conf&confReserved != 0 {
		return nil, fmt.Errorf("lm75: device at %#x is not an LM75: configuration %#02x has reserved bits 7-5 set: %w",
			opts.Addr, conf, sensor.ErrChipID)
	}
	// Keep the OS fault queue, polarity and mode: the OS pin may be wired
	// to a fan or a shutdown circuit that relies on them.
	if conf&confShutdown != 0 {
		conf &^= confShutdown
		if err := d.writeConf(conf); err != nil {
			return nil, err
		}
	}
	d.conf = conf
	// Even when the sensor was already running, it may have powered up
	// with the board a moment ago and not finished its first conversion.
	doSleep(v.ConversionTime())
	return d, nil
}

// String implements conn.Resource: "LM75{bus(addr)}" or "LM75B{...}".
func (d *Dev) String() string {
	if d.variant == LM75B {
		return "LM75B{" + d.c.String() + "}"
	}
	return "LM75{" + d.c.String() + "}"
}

// Sense reads the temperature into e.Temperature and leaves the other fields
// alone. Implements physic.SenseEnv.
func (d *Dev) Sense(e *physic.Env) error {
	t, err := d.SenseTemperature()
	if err != nil {
		return err
	}
	e.Temperature = t
	return nil
}

// SenseTemperature reads the temperature. After Halt it takes the sensor out
// of shutdown first and waits for a conversion.
func (d *Dev) SenseTemperature() (physic.Temperature, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.halted {
		if err := d.writeConf(d.conf); err != nil {
			return 0, err
		}
		d.halted = false
		doSleep(d.variant.ConversionTime())
	}
	d.w[0] = regTemp
	if err := d.c.Tx(d.w[:1], d.r[:]); err != nil {
		return 0, fmt.Errorf("lm75: read temperature at %#x: %w", d.c.Addr, err)
	}
	return decode(uint16(d.r[0])<<8|uint16(d.r[1]), d.variant), nil
}

// Precision implements physic.SenseEnv: one LSB, 0.5 °C or 0.125 °C.
func (d *Dev) Precision(e *physic.Env) {
	e.Temperature = d.variant.Step()
}

// SenseContinuous reads the temperature every interval and sends it on the
// returned channel, starting at once. The interval must be at least the
// variant's conversion time: a National/TI LM75 restarts a conversion that
// a read interrupts (SNIS153, note to "Temperature Conversion Time"), so
// faster polling could keep it from ever completing one. A previous
// continuous read is stopped first. The channel is closed by Halt, or
// after a read fails; call Sense to learn why it failed. Implements
// physic.SenseEnv.
func (d *Dev) SenseContinuous(interval time.Duration) (<-chan physic.Env, error) {
	if least := d.variant.ConversionTime(); interval < least {
		return nil, fmt.Errorf("lm75: sense continuous at %#x: interval %s is shorter than the %s conversion time", d.c.Addr, interval, least)
	}
	return d.cont.Start(interval, func() (physic.Env, error) {
		t, err := d.SenseTemperature()
		return physic.Env{Temperature: t}, err
	}), nil
}

// Halt stops a continuous read and puts the sensor in shutdown (B0 = 1,
// NXP LM75B §7.4.2), where it stops converting and keeps its registers. A
// later Sense wakes it up. Implements conn.Resource.
func (d *Dev) Halt() error {
	return d.cont.Halt(d.shutdown)
}

// shutdown puts the chip in shutdown; the caller holds no lock.
func (d *Dev) shutdown() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.halted {
		return nil
	}
	if err := d.writeConf(d.conf | confShutdown); err != nil {
		return err
	}
	d.halted = true
	return nil
}

// Read implements sensor.Sensor: one temperature reading.
func (d *Dev) Read(dst []sensor.Reading) ([]sensor.Reading, error) {
	t, err := d.SenseTemperature()
	if err != nil {
		return dst, err
	}
	return append(dst, sensor.Temp(t)), nil
}

// readConf and writeConf use the Dev's buffers: call them with mu held, or
// before the Dev is shared. The configuration register is one byte; a
// two-byte read of it is what the National datasheet warns can leave SDA
// held low, so both transfers are exactly one data byte.
func (d *Dev) readConf() (byte, error) {
	d.w[0] = regConf
	if err := d.c.Tx(d.w[:1], d.r[:1]); err != nil {
		return 0, fmt.Errorf("lm75: read configuration at %#x: %w", d.c.Addr, err)
	}
	return d.r[0], nil
}

func (d *Dev) writeConf(conf byte) error {
	d.w = [2]byte{regConf, conf}
	if err := d.c.Tx(d.w[:], nil); err != nil {
		return fmt.Errorf("lm75: write configuration at %#x: %w", d.c.Addr, err)
	}
	return nil
}

// decode converts a temperature register value: two's complement,
// left-justified, 9 or 11 significant bits (NXP LM75B §7.4.3; TI SNIS153
// "Temperature Data Format"). An arithmetic shift of the signed word
// extends the sign and drops the low bits, which are 0 on the NXP parts
// and undefined on the others. This is the Linux lm75 driver's
// ((s16 >> (16-res)) * 1000) >> (res-8) in m°C, here exact in nano-kelvin.
func decode(raw uint16, v Variant) physic.Temperature {
	code := int16(raw) >> (16 - v.bits())
	return physic.ZeroCelsius + physic.Temperature(code)*v.Step()
}

var (
	_ conn.Resource   = &Dev{}
	_ physic.SenseEnv = &Dev{}
	_ sensor.Sensor   = &Dev{}
)
