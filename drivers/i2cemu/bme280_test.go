package i2cemu

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/physic"
)

type bmeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *bmeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *bmeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// bmeNewModel returns a BME280 model on a fake clock.
func bmeNewModel(t *testing.T, bmp bool) (*BME280, *bmeClock) {
	t.Helper()
	c := &bmeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := NewBME280()
	if bmp {
		m = NewBMP280()
	}
	m.now = c.now
	return m, c
}

func bmeRead(t *testing.T, m *BME280, reg byte, n int) []byte {
	t.Helper()
	r := make([]byte, n)
	if err := m.Tx([]byte{reg}, r); err != nil {
		t.Fatalf("read %d bytes at %#x: %v", n, reg, err)
	}
	return r
}

func bmeWrite(t *testing.T, m *BME280, pairs ...byte) {
	t.Helper()
	if err := m.Tx(pairs, nil); err != nil {
		t.Fatalf("write % x: %v", pairs, err)
	}
}

// bmeRaws decodes the data registers 0xF7–0xFE the way the datasheet lays
// them out (§5.4.7–§5.4.9), independently of the model's encoder.
func bmeRaws(b []byte) (p, t, h int32) {
	p = int32(b[0])<<12 | int32(b[1])<<4 | int32(b[2])>>4
	t = int32(b[3])<<12 | int32(b[4])<<4 | int32(b[5])>>4
	h = int32(b[6])<<8 | int32(b[7])
	return p, t, h
}

// Calibration with dig_T3 = 350, from which the reference's worked example
// was computed (periph.io bmxx80 calib280).
var bmeWorkedNVM1 = []byte{0x10, 0x6E, 0x6C, 0x66, 0x5E, 0x01, 0x5D, 0x95, 0xB8, 0xD5, 0xD0, 0x0B, 0x77,
	0x1E, 0x9D, 0xFF, 0xF9, 0xFF, 0xAC, 0x26, 0x0A, 0xD8, 0xBD, 0x10, 0x00, 0x4B}

func TestBME280PowerUp(t *testing.T) {
	m, _ := bmeNewModel(t, false)
	for _, tc := range []struct {
		reg  byte
		want []byte
	}{
		{0xD0, []byte{0x60}},
		{0xE0, []byte{0x00}},
		// 0xF2 … 0xFE: ctrl_hum, status, ctrl_meas, config, reserved, and
		// the data registers at their reset values (§5.3).
		{0xF2, []byte{0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x80, 0x00, 0x00, 0x80, 0x00}},
		{0x88, bmeRealNVM1[:]},
		{0xE1, bmeRealNVM2[:]},
	} {
		if got := bmeRead(t, m, tc.reg, len(tc.want)); !bytes.Equal(got, tc.want) {
			t.Errorf("registers from %#x = % x, want % x", tc.reg, got, tc.want)
		}
	}
	// A read without a write continues from the address set last.
	bmeWrite(t, m, 0xD0)
	var r [1]byte
	if err := m.Tx(nil, r[:]); err != nil || r[0] != 0x60 {
		t.Errorf("read after setting 0xD0 = %#x, %v", r[0], err)
	}
}

func TestBME280Compensation(t *testing.T) {
	worked := bmeParseCalibration(bmeWorkedNVM1, bmeRealNVM2[:])
	real := bmeParseCalibration(bmeRealNVM1[:], bmeRealNVM2[:])
	if real.t3 != 50 || worked.t3 != 350 || real.h4 != 309 || real.h5 != 0 || real.p9 != 4285 {
		t.Fatalf("calibration %+v", real)
	}
	for _, tc := range []struct {
		name             string
		c                bmeCalibration
		tRaw, pRaw, hRaw int32
		centi, tFine     int32
		pQ8              int64
		hQ10             uint32
	}{
		// The reference's worked example.
		{"worked example", worked, 524112, 309104, 30987, 2293, 117407, 25611063, 64686},
		// periph's playback of a real part: 23.72 °C, 100942.6953125 Pa.
		{"real part", real, 526700, 304428, 31350, 2372, 121449, 25841330, 66873},
	} {
		centi, tFine := tc.c.temperature(tc.tRaw)
		p, h := tc.c.pressure(tc.pRaw, tFine), tc.c.humidity(tc.hRaw, tFine)
		if centi != tc.centi || tFine != tc.tFine || p != tc.pQ8 || h != tc.hQ10 {
			t.Errorf("%s: %d (t_fine %d), %d, %d; want %d (%d), %d, %d", tc.name, centi, tFine, p, h, tc.centi, tc.tFine, tc.pQ8, tc.hQ10)
		}
	}
	// Sign extension of the 12-bit dig_H4 and dig_H5 (§4.2.2).
	s := bmeParseCalibration(bmeRealNVM1[:], []byte{0x6B, 0x01, 0x0C, 0xEA, 0x23, 0xFE, 0xE2})
	if s.h2 != 363 || s.h3 != 12 || s.h4 != -349 || s.h5 != -30 || s.h6 != -30 {
		t.Errorf("signed humidity parameters: %+v", s)
	}
}

// The register bytes the model produces for the physical values of the
// reference vectors decode to ADC values next to the recorded ones, and
// compensate to the vector's outputs.
func TestBME280RegisterVectors(t *testing.T) {
	for _, tc := range []struct {
		name             string
		nvm1             []byte
		temp             physic.Temperature
		press            physic.Pressure
		hum              physic.RelativeHumidity
		tRaw, pRaw, hRaw int32 // recorded
		centi            int32
		pQ8              int64
		hQ10             uint32
	}{
		{"worked example", bmeWorkedNVM1, physic.ZeroCelsius + 22930*physic.MilliKelvin, 25611063 * (physic.Pascal / 256), 6316992,
			524112, 309104, 30987, 2293, 25611063, 64686},
		{"real part", bmeRealNVM1[:], physic.ZeroCelsius + 23720*physic.MilliKelvin, 25841330 * (physic.Pascal / 256), 6530566,
			526700, 304428, 31350, 2372, 25841330, 66873},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := bmeNewModel(t, false)
			if err := m.SetCalibration(tc.nvm1, nil); err != nil {
				t.Fatal(err)
			}
			m.SetConversionTime(0)
			m.SetTemperature(tc.temp)
			m.SetPressure(tc.press)
			m.SetHumidity(tc.hum)
			bmeWrite(t, m, 0xF2, 0x05, 0xF4, 0xB5) // ×16: 20-bit results
			pRaw, tRaw, hRaw := bmeRaws(bmeRead(t, m, 0xF7, 8))
			// One 0.01 °C step spans about 32 ADC codes, one 1/256 Pa
			// step a few, one 1/1024 %RH step less than one.
			if d := tRaw - tc.tRaw; d < -16 || d > 16 {
				t.Errorf("temperature ADC %d, recorded %d", tRaw, tc.tRaw)
			}
			if d := pRaw - tc.pRaw; d < -4 || d > 4 {
				t.Errorf("pressure ADC %d, recorded %d", pRaw, tc.pRaw)
			}
			if d := hRaw - tc.hRaw; d < -1 || d > 1 {
				t.Errorf("humidity ADC %d, recorded %d", hRaw, tc.hRaw)
			}
			c := bmeParseCalibration(tc.nvm1, bmeRealNVM2[:])
			centi, tFine := c.temperature(tRaw)
			if centi != tc.centi {
				t.Errorf("temperature ADC %d compensates to %d, want %d", tRaw, centi, tc.centi)
			}
			if p := c.pressure(pRaw, tFine); p < tc.pQ8-64 || p > tc.pQ8+64 {
				t.Errorf("pressure ADC %d compensates to %d, want %d ± 64", pRaw, p, tc.pQ8)
			}
			if h := c.humidity(hRaw, tFine); h < tc.hQ10-3 || h > tc.hQ10+3 {
				t.Errorf("humidity ADC %d compensates to %d, want %d ± 3", hRaw, h, tc.hQ10)
			}
		})
	}
}

func TestBME280Resolution(t *testing.T) {
	// §3.4.2, §3.4.3: 16-bit results at ×1, one more bit per doubling; the
	// unused low bits of xlsb read 0.
	for osrs, mask := range map[byte]int32{1: 0xF, 2: 0x7, 3: 0x3, 4: 0x1, 5: 0x0} {
		m, _ := bmeNewModel(t, false)
		m.SetConversionTime(0)
		for i := range 20 {
			m.SetTemperature(physic.ZeroCelsius + physic.Temperature(i)*1234567*physic.MicroKelvin)
			m.SetPressure(physic.Pressure(90000+i*317) * physic.Pascal)
			bmeWrite(t, m, 0xF4, osrs<<5|osrs<<2|1)
			p, tr, _ := bmeRaws(bmeRead(t, m, 0xF7, 8))
			if p&mask != 0 || tr&mask != 0 {
				t.Errorf("osrs %d: ADC values %#x, %#x have bits below the resolution", osrs, p, tr)
			}
		}
	}
}

func TestBME280ForcedMode(t *testing.T) {
	m, c := bmeNewModel(t, false)
	m.SetTemperature(physic.ZeroCelsius - 10*physic.Kelvin)
	// ×1 for all three: 1 + 2 + 2.5 + 2.5 = 8 ms typical (§9.1).
	bmeWrite(t, m, 0xF2, 0x01, 0xF4, 0x25)
	want := []byte{0x01, 0x08, 0x25, 0x00, 0x00, 0x80, 0x00, 0x00, 0x80, 0x00, 0x00, 0x80, 0x00}
	if got := bmeRead(t, m, 0xF2, 13); !bytes.Equal(got, want) {
		t.Errorf("during the measurement: % x, want % x", got, want)
	}
	c.advance(8*time.Millisecond - time.Nanosecond)
	if got := bmeRead(t, m, 0xF3, 2); got[0] != 0x08 || got[1] != 0x25 {
		t.Errorf("just before the end: status, ctrl_meas = % x", got)
	}
	c.advance(time.Nanosecond)
	got := bmeRead(t, m, 0xF2, 13)
	if !bytes.Equal(got[:5], []byte{0x01, 0x00, 0x24, 0x00, 0x00}) {
		t.Errorf("after the measurement: % x, want back in sleep mode, not measuring", got[:5])
	}
	_, tRaw, _ := bmeRaws(got[5:])
	if centi, _ := m.cal.temperature(tRaw); centi != -1000 {
		t.Errorf("temperature ADC %#x compensates to %d, want -1000", tRaw, centi)
	}
	// Nothing changes in sleep mode.
	m.SetTemperature(physic.ZeroCelsius + 30*physic.Kelvin)
	c.advance(time.Second)
	if again := bmeRead(t, m, 0xF7, 8); !bytes.Equal(again, got[5:]) {
		t.Errorf("data changed in sleep mode: % x, was % x", again, got[5:])
	}
	// Mode 10 is forced mode too; ×16 everywhere takes 1 + 32 + 32.5 +
	// 32.5 = 98 ms.
	bmeWrite(t, m, 0xF2, 0x05, 0xF4, 0xB6)
	c.advance(98*time.Millisecond - time.Nanosecond)
	if s := bmeRead(t, m, 0xF3, 1); s[0] != 0x08 {
		t.Errorf("×16 measurement done before 98 ms: status %#x", s[0])
	}
	c.advance(time.Nanosecond)
	if s := bmeRead(t, m, 0xF3, 2); s[0] != 0x00 || s[1] != 0xB4 {
		t.Errorf("after 98 ms: status, ctrl_meas = % x", s)
	}
}

func TestBME280Timing(t *testing.T) {
	for _, tc := range []struct {
		hum, meas byte
		want      time.Duration
	}{
		{0x01, 0x25, 8 * time.Millisecond},
		{0x00, 0x25, 5500 * time.Microsecond}, // humidity skipped
		{0x00, 0x21, 3 * time.Millisecond},    // temperature only
		{0x03, 0x4D, 1*time.Millisecond + 4*time.Millisecond + 8500*time.Microsecond + 8500*time.Microsecond},
		{0x07, 0xFD, 98 * time.Millisecond}, // 101 and above all mean ×16
	} {
		m, _ := bmeNewModel(t, false)
		bmeWrite(t, m, 0xF2, tc.hum, 0xF4, tc.meas)
		if got := m.measurementTime(); got != tc.want {
			t.Errorf("ctrl_hum %#x ctrl_meas %#x: %s, want %s", tc.hum, tc.meas, got, tc.want)
		}
	}
	m, c := bmeNewModel(t, false)
	m.SetConversionTime(3 * time.Millisecond)
	bmeWrite(t, m, 0xF2, 0x05, 0xF4, 0xB5)
	c.advance(3 * time.Millisecond)
	if s := bmeRead(t, m, 0xF3, 1); s[0] != 0 {
		t.Errorf("fixed 3 ms: status %#x after 3 ms", s[0])
	}
	m.SetConversionTime(-1)
	bmeWrite(t, m, 0xF4, 0xB5)
	c.advance(3 * time.Millisecond)
	if s := bmeRead(t, m, 0xF3, 1); s[0] != 0x08 {
		t.Errorf("datasheet timing restored: status %#x after 3 ms", s[0])
	}
	m.SetConversionTime(0) // completes the running measurement
	if s := bmeRead(t, m, 0xF3, 1); s[0] != 0 {
		t.Errorf("instant: status %#x", s[0])
	}
}

func TestBME280CtrlHumTakesEffectWithCtrlMeas(t *testing.T) {
	m, _ := bmeNewModel(t, false)
	m.SetConversionTime(0)
	// ctrl_meas before ctrl_hum: the measurement uses the old ctrl_hum
	// (skipped) although the register reads back the new value (§5.4.3).
	bmeWrite(t, m, 0xF4, 0x25, 0xF2, 0x01)
	if got := bmeRead(t, m, 0xF2, 1); got[0] != 0x01 {
		t.Errorf("ctrl_hum = %#x, want 0x01", got[0])
	}
	if _, _, h := bmeRaws(bmeRead(t, m, 0xF7, 8)); h != 0x8000 {
		t.Errorf("humidity ADC %#x, want 0x8000: ctrl_hum was not yet in effect", h)
	}
	bmeWrite(t, m, 0xF4, 0x25)
	if _, _, h := bmeRaws(bmeRead(t, m, 0xF7, 8)); h == 0x8000 {
		t.Error("humidity still skipped after ctrl_meas was written")
	}
}

func TestBME280Skipped(t *testing.T) {
	m, _ := bmeNewModel(t, false)
	m.SetConversionTime(0)
	bmeWrite(t, m, 0xF2, 0x00, 0xF4, 0x01) // every measurement skipped
	if got, want := bmeRead(t, m, 0xF7, 8), []byte{0x80, 0, 0, 0x80, 0, 0, 0x80, 0}; !bytes.Equal(got, want) {
		t.Errorf("skipped: % x, want % x", got, want)
	}
	bmeWrite(t, m, 0xF2, 0x01, 0xF4, 0x21) // pressure skipped
	p, tr, h := bmeRaws(bmeRead(t, m, 0xF7, 8))
	if p != 0x80000 || tr == 0x80000 || h == 0x8000 {
		t.Errorf("pressure skipped: ADC values %#x %#x %#x", p, tr, h)
	}
}

func TestBME280SoftReset(t *testing.T) {
	m, c := bmeNewModel(t, false)
	m.SetConversionTime(0)
	bmeWrite(t, m, 0xF2, 0x01, 0xF5, 0xA0, 0xF4, 0x25)
	// Other values than 0xB6 have no effect (§5.4.2).
	bmeWrite(t, m, 0xE0, 0xB5)
	if got := bmeRead(t, m, 0xF2, 4); !bytes.Equal(got, []byte{0x01, 0x00, 0x24, 0xA0}) {
		t.Fatalf("after writing 0xB5 to reset: % x", got)
	}
	bmeWrite(t, m, 0xE0, 0xB6)
	want := []byte{0x00, 0x01, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x80, 0x00, 0x00, 0x80, 0x00}
	if got := bmeRead(t, m, 0xF2, 13); !bytes.Equal(got, want) {
		t.Errorf("right after the reset: % x, want % x (im_update set)", got, want)
	}
	if got := bmeRead(t, m, 0x88, 2); !bytes.Equal(got, []byte{0, 0}) {
		t.Errorf("calibration during the NVM copy: % x, want 00 00", got)
	}
	c.advance(BME280StartupTime)
	if got := bmeRead(t, m, 0xF3, 1); got[0] != 0 {
		t.Errorf("status after the start-up time: %#x", got[0])
	}
	if got := bmeRead(t, m, 0x88, 26); !bytes.Equal(got, bmeRealNVM1[:]) {
		t.Errorf("calibration after the NVM copy: % x", got)
	}
	// PowerOnReset does the same.
	bmeWrite(t, m, 0xF2, 0x01, 0xF4, 0x25)
	m.PowerOnReset()
	if got := bmeRead(t, m, 0xF2, 13); !bytes.Equal(got, want) {
		t.Errorf("after PowerOnReset: % x, want % x", got, want)
	}
}

func TestBME280ReadOnlyAndConfig(t *testing.T) {
	m, _ := bmeNewModel(t, false)
	m.SetConversionTime(0)
	bmeWrite(t, m, 0xD0, 0x12, 0x88, 0x00, 0xF3, 0xFF, 0xF7, 0x00, 0xF2, 0xFF)
	if got := bmeRead(t, m, 0xD0, 1); got[0] != 0x60 {
		t.Errorf("chip ID after a write: %#x", got[0])
	}
	if got := bmeRead(t, m, 0x88, 1); got[0] != bmeRealNVM1[0] {
		t.Errorf("calibration after a write: %#x", got[0])
	}
	if got := bmeRead(t, m, 0xF2, 2); got[0] != 0x07 || got[1] != 0 {
		t.Errorf("ctrl_hum, status after writing 0xff: % x, want 07 00", got)
	}
	// config: bit 1 is reserved; in normal mode writes are ignored
	// (§5.4.6).
	bmeWrite(t, m, 0xF5, 0xFF)
	if got := bmeRead(t, m, 0xF5, 1); got[0] != 0xFD {
		t.Errorf("config = %#x, want 0xfd", got[0])
	}
	bmeWrite(t, m, 0xF5, 0x00, 0xF4, 0x27, 0xF5, 0xE0)
	if got := bmeRead(t, m, 0xF5, 1); got[0] != 0x00 {
		t.Errorf("config written in normal mode: %#x, want 0x00", got[0])
	}
}

func TestBME280NormalMode(t *testing.T) {
	m, c := bmeNewModel(t, false)
	m.SetTemperature(physic.ZeroCelsius + 20*physic.Kelvin)
	// t_sb 000: 0.5 ms standby; ×1: 8 ms measurements.
	bmeWrite(t, m, 0xF5, 0x00, 0xF2, 0x01, 0xF4, 0x27)
	temp := func() int32 {
		_, tr, _ := bmeRaws(bmeRead(t, m, 0xF7, 8))
		centi, _ := m.cal.temperature(tr)
		return centi
	}
	if s := bmeRead(t, m, 0xF3, 1); s[0] != 0x08 {
		t.Errorf("normal mode, first cycle: status %#x", s[0])
	}
	c.advance(8 * time.Millisecond)
	if got := temp(); got != 2000 {
		t.Errorf("after the first cycle: %d, want 2000", got)
	}
	if s := bmeRead(t, m, 0xF3, 2); s[0] != 0 || s[1] != 0x27 {
		t.Errorf("in standby: status, ctrl_meas = % x", s)
	}
	m.SetTemperature(physic.ZeroCelsius + 21*physic.Kelvin)
	c.advance(8 * time.Millisecond) // the second cycle is still running
	if got := temp(); got != 2000 {
		t.Errorf("during the second cycle: %d, want 2000", got)
	}
	c.advance(500 * time.Microsecond)
	if got := temp(); got != 2100 {
		t.Errorf("after the second cycle: %d, want 2100", got)
	}
}

func TestBME280Stuck(t *testing.T) {
	m, _ := bmeNewModel(t, false)
	m.SetConversionTime(0)
	bmeWrite(t, m, 0xF2, 0x01, 0xF4, 0x25)
	before := bmeRead(t, m, 0xF7, 8)
	m.SetStuck(true)
	m.SetTemperature(physic.ZeroCelsius + 40*physic.Kelvin)
	m.SetHumidity(90 * physic.PercentRH)
	bmeWrite(t, m, 0xF4, 0x25)
	if got := bmeRead(t, m, 0xF3, 2); got[0] != 0 || got[1] != 0x24 {
		t.Errorf("stuck: status, ctrl_meas = % x; the measurement should complete", got)
	}
	if got := bmeRead(t, m, 0xF7, 8); !bytes.Equal(got, before) {
		t.Errorf("stuck: data % x, want % x", got, before)
	}
	m.SetStuck(false)
	bmeWrite(t, m, 0xF4, 0x25)
	if got := bmeRead(t, m, 0xF7, 8); bytes.Equal(got, before) {
		t.Error("data still frozen after SetStuck(false)")
	}
}

func TestBME280Extremes(t *testing.T) {
	m, _ := bmeNewModel(t, false)
	m.SetConversionTime(0)
	for _, tc := range []struct {
		name  string
		temp  physic.Temperature
		hum   physic.RelativeHumidity
		tRaw  int32  // want, or -1 to check humidity instead
		hQ10  uint32 // want when tRaw is -1
		press physic.Pressure
	}{
		// Beyond the ADC: saturated at its ends.
		{"hot", physic.ZeroCelsius + 1000*physic.Kelvin, 50 * physic.PercentRH, 0xFFFFF, 0, 101 * physic.KiloPascal},
		{"cold", 0, 50 * physic.PercentRH, 0, 0, 101 * physic.KiloPascal},
		// The humidity formula clamps to 0–100 %RH.
		{"dry", physic.ZeroCelsius + 25*physic.Kelvin, 0, -1, 0, 101 * physic.KiloPascal},
		{"saturated", physic.ZeroCelsius + 25*physic.Kelvin, 100 * physic.PercentRH, -1, 102400, 101 * physic.KiloPascal},
		{"beyond saturation", physic.ZeroCelsius + 25*physic.Kelvin, 150 * physic.PercentRH, -1, 102400, 101 * physic.KiloPascal},
	} {
		m.SetTemperature(tc.temp)
		m.SetHumidity(tc.hum)
		m.SetPressure(tc.press)
		bmeWrite(t, m, 0xF2, 0x01, 0xF4, 0xB5)
		_, tr, h := bmeRaws(bmeRead(t, m, 0xF7, 8))
		if tc.tRaw >= 0 && tr != tc.tRaw {
			t.Errorf("%s: temperature ADC %#x, want %#x", tc.name, tr, tc.tRaw)
		}
		_, tFine := m.cal.temperature(tr)
		if got := m.cal.humidity(h, tFine); tc.tRaw < 0 && got != tc.hQ10 {
			t.Errorf("%s: humidity %d/1024, want %d/1024", tc.name, got, tc.hQ10)
		}
	}
}

func TestBME280BMP280(t *testing.T) {
	m, c := bmeNewModel(t, true)
	if got := bmeRead(t, m, 0xD0, 1); got[0] != 0x58 {
		t.Errorf("chip ID %#x, want 0x58", got[0])
	}
	bmeWrite(t, m, 0xF2, 0x01, 0xF4, 0x25)
	if got := bmeRead(t, m, 0xE1, 7); !bytes.Equal(got, make([]byte, 7)) {
		t.Errorf("0xE1–0xE7 = % x, want zeros", got)
	}
	// No humidity: 1 + 2 + 2.5 = 5.5 ms.
	c.advance(5500*time.Microsecond - time.Nanosecond)
	if s := bmeRead(t, m, 0xF3, 1); s[0] != 0x08 {
		t.Errorf("status %#x before 5.5 ms", s[0])
	}
	c.advance(time.Nanosecond)
	got := bmeRead(t, m, 0xF2, 13)
	if got[0] != 0 || got[1] != 0 || got[11] != 0 || got[12] != 0 {
		t.Errorf("BMP280 after a measurement: % x; ctrl_hum and 0xFD–0xFE read 0", got)
	}
	m.SetChipID(0x61)
	if got := bmeRead(t, m, 0xD0, 1); got[0] != 0x61 {
		t.Errorf("SetChipID: %#x", got[0])
	}
}

func TestBME280BusErrors(t *testing.T) {
	m, _ := bmeNewModel(t, false)
	if err := m.Tx([]byte{0xF2, 0x01, 0xF4}, nil); !errors.Is(err, ErrNACK) {
		t.Errorf("odd write: %v, want ErrNACK", err)
	}
	if err := m.Tx([]byte{0xFE}, make([]byte, 3)); err == nil {
		t.Error("read past 0xff: no error")
	}
	if err := m.Tx([]byte{0x00}, make([]byte, 2)); err != nil {
		t.Errorf("unmapped register: %v", err)
	}
	if err := m.SetCalibration(make([]byte, 25), nil); err == nil {
		t.Error("SetCalibration with 25 bytes: no error")
	}
	if err := m.SetCalibration(make([]byte, 26), make([]byte, 6)); err == nil {
		t.Error("SetCalibration with 6 humidity bytes: no error")
	}
}

func TestBME280ConcurrentSet(t *testing.T) {
	m, _ := bmeNewModel(t, false)
	m.SetConversionTime(0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 300 {
			m.SetTemperature(physic.ZeroCelsius + physic.Temperature(10+i%2)*physic.Kelvin)
			m.SetHumidity(physic.RelativeHumidity(40+i%2) * physic.PercentRH)
		}
	}()
	for range 300 {
		bmeWrite(t, m, 0xF2, 0x01, 0xF4, 0xB5)
		_, tr, _ := bmeRaws(bmeRead(t, m, 0xF7, 8))
		if centi, _ := m.cal.temperature(tr); centi != 1000 && centi != 1100 && centi != 2500 {
			t.Fatalf("read %d, want 10 °C, 11 °C or the initial 25 °C", centi)
		}
	}
	<-done
}

func ExampleBME280() {
	var bus Bus
	chip := NewBME280()
	chip.SetConversionTime(0)
	chip.SetTemperature(physic.ZeroCelsius + 23720*physic.MilliKelvin)
	if err := bus.Attach(0x76, chip); err != nil {
		fmt.Println(err)
		return
	}
	// Forced mode, ×1 oversampling for the three measurements.
	if err := bus.Tx(0x76, []byte{0xF2, 0x01, 0xF4, 0x25}, nil); err != nil {
		fmt.Println(err)
		return
	}
	r := make([]byte, 3)
	if err := bus.Tx(0x76, []byte{0xFA}, r); err != nil {
		fmt.Println(err)
		return
	}
	// 23.72 °C on this part, at ×1 resolution (16 bit: the low nibble of
	// xlsb reads 0).
	fmt.Printf("temperature ADC % X\n", r)
	// Output: temperature ADC 80 96 00
}
