package sensirion

import (
	"fmt"
	"testing"
)

func TestCRC8(t *testing.T) {
	for _, tc := range []struct {
		data []byte
		want byte
	}{
		{[]byte{0xBE, 0xEF}, 0x92}, // SHT3x-DIS §4.12 Table 20, SHT4x datasheet
		{[]byte{0x01, 0xA4}, 0x4D},
		{[]byte{0xAB, 0xCD}, 0x6F},
		{[]byte{0x66, 0x66}, 0x93}, // 25 °C on SHT3x/SHT4x
		{[]byte{0x80, 0x00}, 0xA2},
		{[]byte{0x00, 0x00}, 0x81},
		{[]byte{0xFF, 0xFF}, 0xAC}, // what a floating bus returns
		{nil, 0xFF},                // nothing checksummed: the initial value
	} {
		t.Run(fmt.Sprintf("% X", tc.data), func(t *testing.T) {
			if got := CRC8(tc.data); got != tc.want {
				t.Errorf("CRC8(% X) = %#02x, want %#02x", tc.data, got, tc.want)
			}
			if len(tc.data) == 2 {
				if got := WordCRC(uint16(tc.data[0])<<8 | uint16(tc.data[1])); got != tc.want {
					t.Errorf("WordCRC = %#02x, want %#02x", got, tc.want)
				}
			}
		})
	}
}

// TestCRC8DetectsSingleBitErrors checks the property the sensors rely on:
// any one flipped bit in a word or its CRC is caught.
func TestCRC8DetectsSingleBitErrors(t *testing.T) {
	for _, w := range []uint16{0x0000, 0x6666, 0x8000, 0xBEEF, 0xFFFF} {
		good := []byte{byte(w >> 8), byte(w), WordCRC(w)}
		for bit := range 24 {
			b := append([]byte(nil), good...)
			b[bit/8] ^= 1 << (bit % 8)
			if _, _, _, ok := Word(b); ok {
				t.Errorf("word %#04x with bit %d flipped (% X) passes the check", w, bit, b)
			}
		}
	}
}

func TestWord(t *testing.T) {
	for _, tc := range []struct {
		b         []byte
		w         uint16
		got, want byte
		ok        bool
	}{
		{[]byte{0x66, 0x66, 0x93}, 0x6666, 0x93, 0x93, true},
		{[]byte{0x80, 0x00, 0xA2, 0xFF}, 0x8000, 0xA2, 0xA2, true}, // extra bytes ignored
		{[]byte{0x66, 0x66, 0x94}, 0x6666, 0x94, 0x93, false},
		{[]byte{0xFF, 0xFF, 0xFF}, 0xFFFF, 0xFF, 0xAC, false},
	} {
		w, got, want, ok := Word(tc.b)
		if w != tc.w || got != tc.got || want != tc.want || ok != tc.ok {
			t.Errorf("Word(% X) = %#04x, %#02x, %#02x, %v; want %#04x, %#02x, %#02x, %v",
				tc.b, w, got, want, ok, tc.w, tc.got, tc.want, tc.ok)
		}
	}
}

func BenchmarkWord(b *testing.B) {
	buf := []byte{0x66, 0x66, 0x93}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, ok := Word(buf); !ok {
			b.Fatal("bad CRC")
		}
	}
}

func ExampleCRC8() {
	fmt.Printf("%#02x\n", CRC8([]byte{0xBE, 0xEF}))
	// Output: 0x92
}
