package bme280

import (
	"math"
	"testing"
)

// Calibration register dumps used across the tests.
var (
	// periphNVM1/2 were read from a real BME280 (periph.io bmxx80
	// bmx280_test.go, the I²C playbacks): dig_T3 is 0x0032 = 50.
	periphNVM1 = []byte{0x10, 0x6E, 0x6C, 0x66, 0x32, 0x00, 0x5D, 0x95, 0xB8, 0xD5, 0xD0, 0x0B, 0x77,
		0x1E, 0x9D, 0xFF, 0xF9, 0xFF, 0xAC, 0x26, 0x0A, 0xD8, 0xBD, 0x10, 0x00, 0x4B}
	periphNVM2 = []byte{0x6E, 0x01, 0x00, 0x13, 0x05, 0x00, 0x1E}

	// workedNVM1 is the same part with dig_T3 = 350 (0x015E), the value in
	// periph's calib280 struct from which the reference's worked example
	// (tRaw 524112 → 22.93 °C) was computed.
	workedNVM1 = []byte{0x10, 0x6E, 0x6C, 0x66, 0x5E, 0x01, 0x5D, 0x95, 0xB8, 0xD5, 0xD0, 0x0B, 0x77,
		0x1E, 0x9D, 0xFF, 0xF9, 0xFF, 0xAC, 0x26, 0x0A, 0xD8, 0xBD, 0x10, 0x00, 0x4B}

	// bmp280NVM1 holds the trimming values of the BMP280 datasheet's
	// computation example (BST-BMP280-DS001 §3.12): dig_T1 27504,
	// dig_T2 26435, dig_T3 -1000, dig_P1 36477, dig_P2 -10685, dig_P3 3024,
	// dig_P4 2855, dig_P5 140, dig_P6 -7, dig_P7 15500, dig_P8 -14600,
	// dig_P9 6000; dig_H1 75.
	bmp280NVM1 = []byte{0x70, 0x6B, 0x43, 0x67, 0x18, 0xFC, 0x7D, 0x8E, 0x43, 0xD6, 0xD0, 0x0B, 0x27,
		0x0B, 0x8C, 0x00, 0xF9, 0xFF, 0x8C, 0x3C, 0xF8, 0xC6, 0x70, 0x17, 0x00, 0x4B}
	// signedNVM2 has negative dig_H4 (-349: 0xEA, low nibble 0x3) and
	// dig_H5 (-30: 0xFE2 → 0xE5 high nibble 0x2, 0xE6 = 0xFE), plus non-zero
	// dig_H3 and a negative dig_H6, to exercise every term of the humidity
	// formula and the 12-bit sign extension.
	signedNVM2 = []byte{0x6B, 0x01, 0x0C, 0xEA, 0x23, 0xFE, 0xE2}
)

func TestParseCalibration(t *testing.T) {
	got := parseCalibration(periphNVM1, periphNVM2)
	want := calibration{
		t1: 28176, t2: 26220, t3: 50,
		p1: 38237, p2: -10824, p3: 3024, p4: 7799, p5: -99, p6: -7, p7: 9900, p8: -10230, p9: 4285,
		h1: 75, h2: 366, h3: 0, h4: 309, h5: 0, h6: 30,
	}
	if got != want {
		t.Errorf("periph dump:\n got %+v\nwant %+v", got, want)
	}
	got = parseCalibration(bmp280NVM1, signedNVM2)
	want = calibration{
		t1: 27504, t2: 26435, t3: -1000,
		p1: 36477, p2: -10685, p3: 3024, p4: 2855, p5: 140, p6: -7, p7: 15500, p8: -14600, p9: 6000,
		h1: 75, h2: 363, h3: 12, h4: -349, h5: -30, h6: -30,
	}
	if got != want {
		t.Errorf("signed:\n got %+v\nwant %+v", got, want)
	}
	// A BMP280 has no humidity block.
	if c := parseCalibration(periphNVM1, nil); c.h2 != 0 || c.h4 != 0 || c.h1 != 75 {
		t.Errorf("without block 2: %+v", c)
	}
}

func TestCompensationVectors(t *testing.T) {
	cases := []struct {
		name             string
		nvm1, nvm2       []byte
		tRaw, pRaw, hRaw int32
		centi, tFine     int32
		pQ8              int64  // Pa·256; 0 to skip
		hQ10             uint32 // %RH·1024; 0 to skip
	}{
		// The reference's worked example (periph TestCalibration280Int):
		// 22.93 °C, 25611063/256 = 100043.21 Pa, 64686/1024 = 63.17 %RH.
		{"worked example", workedNVM1, periphNVM2, 524112, 309104, 30987, 2293, 117407, 25611063, 64686},
		// periph TestI2CSenseBME280_success: the real part's dump and data
		// registers 4A 52 C0 80 96 C0 7A 76 read 23.72 °C and
		// 100942695312500 nPa = 25841330/256 Pa.
		{"real part", periphNVM1, periphNVM2, 526700, 304428, 31350, 2372, 121449, 25841330, 66873},
		// BMP280 datasheet §3.12: adc_T 519888 → t_fine 128422, 25.08 °C.
		{"BMP280 datasheet", bmp280NVM1, nil, 519888, 415148, 0, 2508, 128422, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := parseCalibration(tc.nvm1, tc.nvm2)
			centi, tFine := c.temperature(tc.tRaw)
			if centi != tc.centi || tFine != tc.tFine {
				t.Errorf("temperature(%d) = %d, t_fine %d; want %d, %d", tc.tRaw, centi, tFine, tc.centi, tc.tFine)
			}
			if p := c.pressure(tc.pRaw, tFine); tc.pQ8 != 0 && p != tc.pQ8 {
				t.Errorf("pressure(%d) = %d, want %d", tc.pRaw, p, tc.pQ8)
			}
			if h := c.humidity(tc.hRaw, tFine); tc.hQ10 != 0 && h != tc.hQ10 {
				t.Errorf("humidity(%d) = %d, want %d", tc.hRaw, h, tc.hQ10)
			}
		})
	}
}

func TestCompensationLimits(t *testing.T) {
	c := parseCalibration(periphNVM1, periphNVM2)
	_, tFine := c.temperature(524112)
	// The humidity formula clamps to 0–100 %RH (§4.2.3).
	if h := c.humidity(0, tFine); h != 0 {
		t.Errorf("humidity(0) = %d, want 0", h)
	}
	if h := c.humidity(0xFFFF, tFine); h != 100*1024 {
		t.Errorf("humidity(0xffff) = %d, want %d", h, 100*1024)
	}
	// With a negative dig_H4 the top of the 16-bit ADC range lies far
	// above 100 %RH, where the datasheet's 32-bit expression overflows and
	// would wrap to 0; it must clamp to 100 %RH.
	s := parseCalibration(bmp280NVM1, signedNVM2)
	_, sFine := s.temperature(519888)
	for _, raw := range []int32{0xC000, 0xF000, 0xFFFF} {
		if h := s.humidity(raw, sFine); h != 100*1024 {
			t.Errorf("signed calibration: humidity(%#x) = %d, want %d", raw, h, 100*1024)
		}
	}
	// Near full scale the pressure formula goes negative.
	if p := c.pressure(0xFFFF0, tFine); p >= 0 {
		t.Errorf("pressure(0xffff0) = %d, want negative", p)
	}
	// dig_P1 = 0 would divide by zero: the formula returns 0.
	c.p1 = 0
	if p := c.pressure(309104, tFine); p != 0 {
		t.Errorf("pressure with dig_P1 = 0: %d, want 0", p)
	}
}

// The floating-point compensation of the datasheet (BST-BME280-DS002 §8.1),
// an independent formulation of the same model: over the whole ADC range
// the integer results must agree with it to within their resolution.
func floatTemperature(c *calibration, adc int32) float64 {
	a, t1 := float64(adc), float64(c.t1)
	v1 := (a/16384 - t1/1024) * float64(c.t2)
	v2 := (a/131072 - t1/8192) * (a/131072 - t1/8192) * float64(c.t3)
	return (v1 + v2) / 5120
}

func floatPressure(c *calibration, adc int32, tFine float64) float64 {
	v1 := tFine/2 - 64000
	v2 := v1 * v1 * float64(c.p6) / 32768
	v2 += v1 * float64(c.p5) * 2
	v2 = v2/4 + float64(c.p4)*65536
	v1 = (float64(c.p3)*v1*v1/524288 + float64(c.p2)*v1) / 524288
	v1 = (1 + v1/32768) * float64(c.p1)
	p := 1048576 - float64(adc)
	p = (p - v2/4096) * 6250 / v1
	v1 = float64(c.p9) * p * p / 2147483648
	v2 = p * float64(c.p8) / 32768
	return p + (v1+v2+float64(c.p7))/16
}

func floatHumidity(c *calibration, adc int32, tFine float64) float64 {
	h := tFine - 76800
	h = (float64(adc) - (float64(c.h4)*64 + float64(c.h5)/16384*h)) *
		(float64(c.h2) / 65536 * (1 + float64(c.h6)/67108864*h*(1+float64(c.h3)/67108864*h)))
	h *= 1 - float64(c.h1)*h/524288
	return max(0, min(100, h))
}

func TestCompensationMatchesFloat(t *testing.T) {
	for _, tc := range []struct {
		name       string
		nvm1, nvm2 []byte
		// want holds the parameters as plain numbers, so that the float
		// formulas do not depend on parseCalibration.
		want calibration
	}{
		{"real part", periphNVM1, periphNVM2, calibration{t1: 28176, t2: 26220, t3: 50,
			p1: 38237, p2: -10824, p3: 3024, p4: 7799, p5: -99, p6: -7, p7: 9900, p8: -10230, p9: 4285,
			h1: 75, h2: 366, h3: 0, h4: 309, h5: 0, h6: 30}},
		{"signed humidity terms", bmp280NVM1, signedNVM2, calibration{t1: 27504, t2: 26435, t3: -1000,
			p1: 36477, p2: -10685, p3: 3024, p4: 2855, p5: 140, p6: -7, p7: 15500, p8: -14600, p9: 6000,
			h1: 75, h2: 363, h3: 12, h4: -349, h5: -30, h6: -30}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := parseCalibration(tc.nvm1, tc.nvm2)
			var worstT, worstP, worstH float64
			for tRaw := int32(0); tRaw < 1<<20; tRaw += 1021 {
				centi, tFine := c.temperature(tRaw)
				ft := floatTemperature(&tc.want, tRaw)
				if ft < -40 || ft > 85 { // operating range (§1)
					continue
				}
				worstT = max(worstT, math.Abs(float64(centi)/100-ft))
				for pRaw := int32(0); pRaw < 1<<20; pRaw += 10007 {
					fp := floatPressure(&tc.want, pRaw, float64(tFine))
					if fp < 30000 || fp > 110000 {
						continue
					}
					worstP = max(worstP, math.Abs(float64(c.pressure(pRaw, tFine))/256-fp))
				}
				for hRaw := int32(0); hRaw < 1<<16; hRaw += 101 {
					fh := floatHumidity(&tc.want, hRaw, float64(tFine))
					worstH = max(worstH, math.Abs(float64(c.humidity(hRaw, tFine))/1024-fh))
				}
			}
			// One output step plus rounding: 0.01 °C, 1/256 Pa plus the
			// truncations of the 64-bit formula, 1/1024 %RH.
			if worstT > 0.01 || worstP > 0.02 || worstH > 0.01 {
				t.Errorf("largest difference from the float formulas: %.4f °C, %.4f Pa, %.4f %%RH", worstT, worstP, worstH)
			}
		})
	}
}
