// Package sensirion holds what Sensirion's humidity and temperature sensors
// share on the wire: every 16-bit word they send or accept is followed by a
// CRC-8 of that word. The SHT3x and SHT4x drivers check each word with it
// before they convert anything, so a corrupted transfer is reported instead
// of read as a plausible temperature.
//
// The checksum is specified in Sensirion's datasheets, e.g. SHT3x-DIS
// (version 5, May 2018) §4.12 Table 20: CRC-8, polynomial 0x31
// (x⁸ + x⁵ + x⁴ + 1), initial value 0xFF, no reflection of input or output,
// no final XOR; CRC(0xBEEF) = 0x92. The SHT4x datasheet specifies the same.
package sensirion

// Parameters of the Sensirion CRC-8.
const (
	Polynomial byte = 0x31
	Init       byte = 0xFF
)

// CRC8 returns the Sensirion CRC-8 of data. The sensors checksum each 2-byte
// word separately, so data is normally one word.
func CRC8(data []byte) byte {
	crc := Init
	for _, b := range data {
		crc ^= b
		for range 8 {
			if crc&0x80 != 0 {
				crc = crc<<1 ^ Polynomial
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// WordCRC returns the Sensirion CRC-8 of the big-endian word w, the byte
// that follows w on the wire.
func WordCRC(w uint16) byte {
	return CRC8([]byte{byte(w >> 8), byte(w)})
}

// Word decodes the 3 bytes b[0:3] of a response: a big-endian word and its
// CRC. ok reports whether the CRC matches; got and want are the received
// and the computed CRC, for an error message.
func Word(b []byte) (w uint16, got, want byte, ok bool) {
	_ = b[2] // one bounds check
	w = uint16(b[0])<<8 | uint16(b[1])
	got, want = b[2], CRC8(b[:2])
	return w, got, want, got == want
}
