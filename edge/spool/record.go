package spool

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"time"

	"github.com/rackwatch/rackwatch/edge/sample"
)

// Record is one batch of consecutively numbered samples from one device.
type Record struct {
	Device string
	// First is the sample number of Samples[0]; Samples[i] is number First+i.
	First   uint64
	Samples []sample.Sample
	// Replayed is set on records that were on disk when the spool was
	// opened: they were produced by an earlier run of the process.
	Replayed bool
}

// End returns the number after the record's last sample, the value to pass
// to Ack once the record is delivered.
func (r Record) End() uint64 { return r.First + uint64(len(r.Samples)) }

// Frame layout (see doc.go): magic, CRC-32C, payload length, payload.
const (
	frameHeader = 12
	// maxFramePayload bounds a payload independently of the configuration,
	// so a damaged length field never makes a reader allocate much.
	maxFramePayload = 16 << 20
)

var frameMagic = [4]byte{0xD7, 'R', 'W', 'F'}

// castagnoli is CRC-32C (RFC 3720 §12.1), which has hardware support on
// both amd64 (SSE4.2) and arm64 (ARMv8 CRC32 instructions).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Value kinds in the payload. They are part of the format and independent
// of sample.Kind's numbering.
const (
	valInvalid = 0
	valFloat   = 1
	valUint    = 2
	valInt     = 3
	valBool    = 4
)

// minSampleBytes is the smallest encoding of one sample: metric, label
// count, unit, kind and the two timestamp deltas take a byte each. It bounds
// the sample count a payload can claim before anything is allocated.
const minSampleBytes = 6

var errPayload = errors.New("spool: malformed record payload")

// encoder turns Records into frames. It is reused so that encoding a record
// does not allocate once its buffers have grown.
type encoder struct {
	buf  []byte
	strs map[string]uint64
}

// frame encodes rec as a complete frame into the encoder's buffer; the
// result is valid until the next call.
func (e *encoder) frame(rec *Record) []byte {
	if e.strs == nil {
		e.strs = make(map[string]uint64)
	}
	clear(e.strs)
	b := append(e.buf[:0], make([]byte, frameHeader)...)
	b = binary.AppendUvarint(b, rec.First)
	b = binary.AppendUvarint(b, uint64(len(rec.Device)))
	b = append(b, rec.Device...)
	b = binary.AppendUvarint(b, uint64(len(rec.Samples)))
	nl := 0
	for i := range rec.Samples {
		nl += len(rec.Samples[i].Labels)
	}
	b = binary.AppendUvarint(b, uint64(nl))
	var psec, pnsec int64
	for i := range rec.Samples {
		s := &rec.Samples[i]
		b = e.str(b, s.Metric)
		b = binary.AppendUvarint(b, uint64(len(s.Labels)))
		for _, l := range s.Labels {
			b = e.str(b, l.Name)
			b = e.str(b, l.Value)
		}
		b = e.str(b, s.Unit)
		b = appendValue(b, s.Value)
		sec, nsec := s.TS.Unix(), int64(s.TS.Nanosecond())
		b = binary.AppendVarint(b, sec-psec)
		b = binary.AppendVarint(b, nsec-pnsec)
		psec, pnsec = sec, nsec
	}
	copy(b[0:4], frameMagic[:])
	binary.LittleEndian.PutUint32(b[8:12], uint32(len(b)-frameHeader))
	binary.LittleEndian.PutUint32(b[4:8], crc32.Checksum(b[8:], castagnoli))
	e.buf = b
	return b
}

// str writes a string the first time it appears in the record and a
// reference to it afterwards: metric names, label names and units repeat
// within a batch, and this keeps a sample to a few bytes plus its value.
func (e *encoder) str(b []byte, s string) []byte {
	if i, ok := e.strs[s]; ok {
		return binary.AppendUvarint(b, i<<1|1)
	}
	e.strs[s] = uint64(len(e.strs))
	b = binary.AppendUvarint(b, uint64(len(s))<<1)
	return append(b, s...)
}

func appendValue(b []byte, v sample.Value) []byte {
	switch v.Kind() {
	case sample.KindFloat:
		b = append(b, valFloat)
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(v.Float()))
	case sample.KindUint:
		return binary.AppendUvarint(append(b, valUint), v.Uint())
	case sample.KindInt:
		return binary.AppendVarint(append(b, valInt), v.Int())
	case sample.KindBool:
		if v.Bool() {
			return append(b, valBool, 1)
		}
		return append(b, valBool, 0)
	}
	return append(b, valInvalid)
}

// payloadReader reads the primitives of a payload; the first failure sticks.
type payloadReader struct {
	b   []byte
	i   int
	bad bool
}

func (r *payloadReader) uvarint() uint64 {
	if r.bad {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.i:])
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.i += n
	return v
}

func (r *payloadReader) varint() int64 {
	if r.bad {
		return 0
	}
	v, n := binary.Varint(r.b[r.i:])
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.i += n
	return v
}

func (r *payloadReader) byte() byte {
	if r.bad || r.i >= len(r.b) {
		r.bad = true
		return 0
	}
	c := r.b[r.i]
	r.i++
	return c
}

// span skips n bytes and returns their offsets.
func (r *payloadReader) span(n uint64) (int, int) {
	if r.bad || n > uint64(len(r.b)-r.i) {
		r.bad = true
		return 0, 0
	}
	start := r.i
	r.i += int(n)
	return start, r.i
}

func (r *payloadReader) remaining() int { return len(r.b) - r.i }

// decoder parses payloads. Its string table is reused between records.
type decoder struct {
	tab [][2]int
}

// check validates a payload and returns its first sample number and its
// sample count.
func (d *decoder) check(p []byte) (first uint64, n int, err error) {
	var rec Record
	return d.decode(p, &rec, false)
}

// decode parses payload p. With build set it fills rec; all its strings
// share one allocation, a copy of the payload. Without build it only
// validates p, without allocating. It never panics on any input.
func (d *decoder) decode(p []byte, rec *Record, build bool) (first uint64, n int, err error) {
	r := payloadReader{b: p}
	first = r.uvarint()
	ds, de := r.span(r.uvarint())
	ns := r.uvarint()
	nl := r.uvarint()
	if r.bad || ns == 0 || ns > uint64(r.remaining()/minSampleBytes) || nl > uint64(r.remaining()/2) {
		return 0, 0, errPayload
	}
	var ps string
	var samples []sample.Sample
	var labels []sample.Label
	if build {
		ps = string(p)
		samples = make([]sample.Sample, ns)
		if nl > 0 {
			labels = make([]sample.Label, nl)
		}
	}
	d.tab = d.tab[:0]
	str := func() (int, int) {
		x := r.uvarint()
		if r.bad {
			return 0, 0
		}
		if x&1 == 1 {
			i := x >> 1
			if i >= uint64(len(d.tab)) {
				r.bad = true
				return 0, 0
			}
			return d.tab[i][0], d.tab[i][1]
		}
		s, e := r.span(x >> 1)
		d.tab = append(d.tab, [2]int{s, e})
		return s, e
	}
	var sec, nsec int64
	used := uint64(0)
	for i := uint64(0); i < ns && !r.bad; i++ {
		ms, me := str()
		k := r.uvarint()
		if k > nl-used {
			return 0, 0, errPayload
		}
		var ls sample.Labels
		if build && k > 0 {
			ls = labels[used : used+k : used+k]
		}
		for j := uint64(0); j < k && !r.bad; j++ {
			a, b := str()
			c, e := str()
			if build {
				ls[j] = sample.Label{Name: ps[a:b], Value: ps[c:e]}
			}
		}
		used += k
		us, ue := str()
		v, ok := readValue(&r)
		if !ok {
			return 0, 0, errPayload
		}
		sec += r.varint()
		nsec += r.varint()
		if nsec < 0 || nsec >= 1e9 {
			return 0, 0, errPayload
		}
		if build && !r.bad {
			samples[i] = sample.Sample{Metric: ps[ms:me], Labels: ls, Value: v, Unit: ps[us:ue], TS: time.Unix(sec, nsec).UTC()}
		}
	}
	if r.bad || used != nl || r.remaining() != 0 {
		return 0, 0, errPayload
	}
	if first+ns < first {
		return 0, 0, errPayload // the numbers would wrap
	}
	if build {
		*rec = Record{Device: ps[ds:de], First: first, Samples: samples}
	}
	return first, int(ns), nil
}

func readValue(r *payloadReader) (sample.Value, bool) {
	switch r.byte() {
	case valInvalid:
		return sample.Value{}, !r.bad
	case valFloat:
		s, e := r.span(8)
		if r.bad {
			return sample.Value{}, false
		}
		return sample.Float(math.Float64frombits(binary.LittleEndian.Uint64(r.b[s:e]))), true
	case valUint:
		u := r.uvarint()
		return sample.Uint(u), !r.bad
	case valInt:
		i := r.varint()
		return sample.Int(i), !r.bad
	case valBool:
		switch r.byte() {
		case 0:
			return sample.Bool(false), !r.bad
		case 1:
			return sample.Bool(true), true
		}
	}
	return sample.Value{}, false
}
