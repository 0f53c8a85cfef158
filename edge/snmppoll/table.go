package snmppoll

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gosnmp/gosnmp"
	"github.com/rackwatch/rackwatch/edge/sample"
)

const (
	// maxRows bounds the rows kept per table, so that a broken or hostile
	// agent cannot grow the edge's memory without limit. A large chassis
	// switch has a few thousand interfaces.
	maxRows = 8192
	// maxLabelLen bounds a label value taken from the device.
	maxLabelLen = 128
)

// tableState assembles the rows of one table from its column walks and turns
// them into samples. It is kept across polls so that a steady table costs no
// allocations beyond the returned samples: rows, cells and the index map are
// reused, and a row keeps its sample.Labels while the label values are
// unchanged.
type tableState struct {
	t       *compiledTable
	target  string // "name (address)" for errors
	rows    []row
	byIndex map[string]int
	cells   []cell // len(rows) × len(t.cols), row-major
	// labelSeen finds rows that would produce the same series.
	labelSeen map[string]int
	// overflow counts PDUs dropped because the table hit maxRows.
	overflow int
}

type row struct {
	index string
	seen  bool
	// labels is shared by every sample of the row, in this poll and the
	// polls after it while the values stay the same.
	labels sample.Labels
}

type cell struct {
	pdu gosnmp.SnmpPDU
	set bool
}

func newTableState(t *compiledTable, target string) *tableState {
	return &tableState{t: t, target: target, byIndex: map[string]int{}, labelSeen: map[string]int{}}
}

// begin prepares for a new poll.
func (ts *tableState) begin() {
	for i := range ts.rows {
		ts.rows[i].seen = false
	}
	// Drop the previous poll's values, so they are neither reused nor kept
	// alive.
	clear(ts.cells)
	ts.overflow = 0
}

// add stores one PDU from the walk of column col.
func (ts *tableState) add(col int, pdu gosnmp.SnmpPDU) {
	prefix := ts.t.cols[col].prefix
	if len(pdu.Name) <= len(prefix) || pdu.Name[:len(prefix)] != prefix {
		// gosnmp hands back the column OID itself when an agent answers
		// a GET on it; that is no row.
		return
	}
	index := pdu.Name[len(prefix):]
	r, ok := ts.byIndex[index]
	if !ok {
		if len(ts.rows) >= maxRows {
			ts.overflow++
			return
		}
		r = len(ts.rows)
		ts.rows = append(ts.rows, row{index: strings.Clone(index)})
		ts.byIndex[ts.rows[r].index] = r
		n := len(ts.t.cols)
		ts.cells = slices.Grow(ts.cells, n)[:len(ts.cells)+n]
		clear(ts.cells[len(ts.cells)-n:])
	}
	ts.rows[r].seen = true
	ts.cells[r*len(ts.t.cols)+col] = cell{pdu: pdu, set: true}
}

// build appends the samples of every row seen in this poll to dst, reports
// unusable values to probs, and forgets rows that were not seen.
func (ts *tableState) build(dst []sample.Sample, now time.Time, probs *problems) []sample.Sample {
	t := ts.t
	ncols := len(t.cols)
	if ts.overflow > 0 {
		probs.add(fmt.Errorf("snmppoll: %s: %s: more than %d rows, %d values ignored", ts.target, t.name, maxRows, ts.overflow))
	}
	clear(ts.labelSeen)
	for r := range ts.rows {
		rw := &ts.rows[r]
		if !rw.seen {
			continue
		}
		cells := ts.cells[r*ncols : (r+1)*ncols]
		if !ts.resolveLabels(rw, cells, probs) {
			continue
		}
		if len(rw.labels) > 0 {
			key := labelKey(rw.labels)
			if first, dup := ts.labelSeen[key]; dup {
				probs.add(&ValueError{Target: ts.target, Table: t.name, Index: rw.index,
					Err: fmt.Errorf("same labels as row %s: %s", ts.rows[first].index, sample.SeriesName("", rw.labels))})
				continue
			}
			ts.labelSeen[key] = r
		}
		for i := range t.metrics {
			m := &t.metrics[i]
			c := &cells[m.col]
			if !c.set {
				continue
			}
			v, err := m.value(&c.pdu)
			if err != nil {
				col := &t.cols[m.col]
				probs.add(&ValueError{Target: ts.target, Table: col.table, Column: col.Name, Index: rw.index, Err: err})
				continue
			}
			dst = append(dst, sample.Sample{Metric: m.Name, Labels: rw.labels, Value: v, Unit: m.unit, TS: now})
		}
	}
	ts.forgetUnseen()
	return dst
}

// resolveLabels sets rw.labels from the row's cells, reusing the previous
// slice when nothing changed. It reports false when the row has no value for
// some label.
func (ts *tableState) resolveLabels(rw *row, cells []cell, probs *problems) bool {
	t := ts.t
	if len(t.labels) == 0 {
		rw.labels = nil
		return true
	}
	var vals [4][]byte // enough for every profile without allocating
	buf := vals[:0]
	for _, l := range t.labels {
		v, ok := ts.labelValue(rw, l, cells, probs)
		if !ok {
			names := make([]string, len(l.from))
			for i, c := range l.from {
				names[i] = t.cols[c].Name
			}
			probs.add(&ValueError{Target: ts.target, Table: t.name, Column: strings.Join(names, "/"), Index: rw.index,
				Err: fmt.Errorf("no value for label %s", l.name)})
			return false
		}
		buf = append(buf, v)
	}
	if len(rw.labels) == len(buf) {
		same := true
		for i, v := range buf {
			if rw.labels[i].Value != string(v) {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	// A new slice, never an edit in place: samples returned by earlier
	// polls still refer to the old one.
	ls := make(sample.Labels, len(buf))
	for i, v := range buf {
		ls[i] = sample.Label{Name: t.labels[i].name, Value: string(v)}
	}
	rw.labels = ls
	return true
}

// labelValue returns the first usable value among l's columns.
func (ts *tableState) labelValue(rw *row, l compiledLabel, cells []cell, probs *problems) ([]byte, bool) {
	for _, ci := range l.from {
		c := &cells[ci]
		if !c.set {
			continue
		}
		b, ok := c.pdu.Value.([]byte)
		if c.pdu.Type != gosnmp.OctetString || !ok {
			col := &ts.t.cols[ci]
			probs.add(&ValueError{Target: ts.target, Table: col.table, Column: col.Name, Index: rw.index,
				Err: fmt.Errorf("%w: want OctetString, got %v", errWrongType, c.pdu.Type)})
			continue
		}
		if b = cleanLabel(b); len(b) > 0 {
			return b, true
		}
	}
	return nil, false
}

// cleanLabel trims what agents pad strings with (trailing NULs from C
// strings, spaces) and bounds the length. Invalid UTF-8 is left to
// labelString.
func cleanLabel(b []byte) []byte {
	b = bytes.TrimRight(b, "\x00")
	b = bytes.TrimSpace(b)
	if len(b) > maxLabelLen {
		// Cut at a rune start, so a valid multi-byte rune is not halved.
		n := maxLabelLen
		for i := 0; i < utf8.UTFMax && n > 0 && !utf8.RuneStart(b[n]); i++ {
			n--
		}
		b = b[:n]
	}
	if !utf8.Valid(b) {
		// Label values travel as protobuf strings and JSON; keep them
		// valid UTF-8. This path allocates, and only for broken agents.
		b = bytes.ToValidUTF8(b, []byte("\uFFFD"))
	}
	return b
}

func labelKey(ls sample.Labels) string {
	if len(ls) == 1 {
		return ls[0].Value
	}
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(l.Value)
		b.WriteByte(0xff) // never part of valid UTF-8
	}
	return b.String()
}

// forgetUnseen drops rows that vanished from the device (an interface
// removed, a sensor gone), so they stop holding memory.
func (ts *tableState) forgetUnseen() {
	kept := ts.rows[:0]
	for _, rw := range ts.rows {
		if rw.seen {
			kept = append(kept, rw)
		}
	}
	if len(kept) == len(ts.rows) {
		return
	}
	clear(ts.rows[len(kept):])
	ts.rows = kept
	ts.cells = ts.cells[:len(kept)*len(ts.t.cols)]
	clear(ts.byIndex)
	for i, rw := range ts.rows {
		ts.byIndex[rw.index] = i
	}
}
