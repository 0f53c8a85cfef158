package bme280

// calibration holds the trimming parameters the chip stores in NVM
// (BST-BME280-DS002 §4.2.2, the table "Compensation parameter storage,
// naming and data type"). The names follow the datasheet's dig_T1 …
// dig_H6.
type calibration struct {
	t1                             uint16
	t2, t3                         int16
	p1                             uint16
	p2, p3, p4, p5, p6, p7, p8, p9 int16
	h1                             uint8
	h2                             int16
	h3                             uint8
	h4, h5                         int16 // 12-bit signed
	h6                             int8
}

// Lengths of the two calibration blocks: 0x88–0xA1 (dig_T1 … dig_P9, a
// reserved byte at 0xA0, dig_H1 at 0xA1) and 0xE1–0xE7 (dig_H2 … dig_H6).
const (
	calib1Len = 0xA1 - 0x88 + 1
	calib2Len = 0xE7 - 0xE1 + 1
)

func le16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }

// signExtend12 interprets the low 12 bits of v as two's complement.
func signExtend12(v uint16) int16 { return int16(v<<4) >> 4 }

// parseCalibration decodes the two calibration blocks; c2 is nil on a
// BMP280, which has no humidity. Multi-byte parameters are little endian.
// dig_H4 and dig_H5 are 12-bit signed values that share register 0xE5:
// dig_H4 is 0xE4 (bits 11:4) and 0xE5 bits 3:0, dig_H5 is 0xE6 (bits 11:4)
// and 0xE5 bits 7:4. Both are sign-extended from bit 11, as Bosch's
// BME280_SensorAPI and the Linux bmp280 driver do.
func parseCalibration(c1, c2 []byte) calibration {
	c := calibration{
		t1: le16(c1[0:]),
		t2: int16(le16(c1[2:])),
		t3: int16(le16(c1[4:])),
		p1: le16(c1[6:]),
		p2: int16(le16(c1[8:])),
		p3: int16(le16(c1[10:])),
		p4: int16(le16(c1[12:])),
		p5: int16(le16(c1[14:])),
		p6: int16(le16(c1[16:])),
		p7: int16(le16(c1[18:])),
		p8: int16(le16(c1[20:])),
		p9: int16(le16(c1[22:])),
		h1: c1[25],
	}
	if c2 != nil {
		c.h2 = int16(le16(c2[0:]))
		c.h3 = c2[2]
		c.h4 = signExtend12(uint16(c2[3])<<4 | uint16(c2[4]&0x0F))
		c.h5 = signExtend12(uint16(c2[5])<<4 | uint16(c2[4]>>4))
		c.h6 = int8(c2[6])
	}
	return c
}

// temperature returns the temperature in 0.01 °C and t_fine, the
// fine-resolution temperature that the pressure and humidity formulas
// take. raw is the 20-bit ADC value. This is the 32-bit integer formula
// BME280_compensate_T_int32 of §4.2.3.
func (c *calibration) temperature(raw int32) (centi, tFine int32) {
	v1 := ((raw>>3 - int32(c.t1)<<1) * int32(c.t2)) >> 11
	d := raw>>4 - int32(c.t1)
	v2 := (((d * d) >> 12) * int32(c.t3)) >> 14
	tFine = v1 + v2
	return (tFine*5 + 128) >> 8, tFine
}

// pressure returns the pressure in Pa as Q24.8 (1/256 Pa), or 0 when the
// calibration would divide by zero. This is the 64-bit integer formula
// BME280_compensate_P_int64 of §4.2.3 without its final cast to uint32:
// ADC values near full scale give a negative pressure, which the cast would
// turn into some 16.7 MPa instead of an obviously wrong value.
func (c *calibration) pressure(raw, tFine int32) int64 {
	v1 := int64(tFine) - 128000
	v2 := v1 * v1 * int64(c.p6)
	v2 += (v1 * int64(c.p5)) << 17
	v2 += int64(c.p4) << 35
	v1 = (v1*v1*int64(c.p3))>>8 + (v1*int64(c.p2))<<12
	v1 = ((int64(1)<<47 + v1) * int64(c.p1)) >> 33
	if v1 == 0 {
		return 0
	}
	p := int64(1048576 - raw)
	p = ((p<<31 - v2) * 3125) / v1
	v1 = (int64(c.p9) * (p >> 13) * (p >> 13)) >> 25
	v2 = (int64(c.p8) * p) >> 19
	return (p+v1+v2)>>8 + int64(c.p7)<<4
}

// humidity returns the relative humidity in %RH as unsigned Q22.10
// (1/1024 %RH), clamped to 0–100 %RH. This is the formula
// bme280_compensate_H_int32 of §4.2.3, evaluated in 64 bits: the 32-bit
// original overflows, and wraps to 0 %RH, for ADC values far above
// 100 %RH (its (v>>15)² term exceeds 2³¹ once v passes 2³⁰·⁵), which a
// negative dig_H4 brings within the 16-bit ADC range. Wherever the 32-bit
// expression does not overflow the results are identical.
func (c *calibration) humidity(raw, tFine int32) uint32 {
	x := int64(tFine) - 76800
	a := (int64(raw)<<14 - int64(c.h4)<<20 - int64(c.h5)*x + 16384) >> 15
	b := ((x * int64(c.h6)) >> 10) * (((x * int64(c.h3)) >> 11) + 32768)
	b = ((b>>10)+2097152)*int64(c.h2) + 8192
	b >>= 14
	x = a * b
	x -= (((x >> 15) * (x >> 15)) >> 7) * int64(c.h1) >> 4
	x = max(0, min(419430400, x))
	return uint32(x >> 12)
}
