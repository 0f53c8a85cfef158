package snmppoll

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
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

// tableState assembles the rows of one table from its walk and lookups and
// turns them into samples. It is kept across polls so that a steady table
// costs no allocations beyond the returned samples: rows, cells, the index
// map and the scratch buffers are reused, and a row keeps its sample.Labels
// while the label values are unchanged. It also keeps each counter's
// previous value, for rates.
type tableState struct {
	t       *compiledTable
	target  string // "name (address)" for errors
	rows    []row
	byIndex map[string]int
	cells   []cell // len(rows) × len(t.cols), row-major
	// labelSeen finds rows that would produce the same series.
	labelSeen map[string]int
	// overflow counts values dropped because the table hit maxRows.
	overflow int
	// walk is the cursor of each walked column.
	walk []cursor
	// lookup requests of the current poll: OIDs and where each answer goes
	// in cells.
	lookupOIDs []string
	lookupDst  []int
	// buf and spans hold the label values of the row being built.
	buf   []byte
	spans [][2]int
	// clock is the agent time of the last build, for rates.
	clock agentClock
	// added is set when the poll created rows, which may be out of
	// index order.
	added bool
}

type row struct {
	index string
	seen  bool
	// labels is shared by every sample of the row, in this poll and the
	// polls after it while the values stay the same. Its values are
	// substrings of rawKey.
	labels sample.Labels
	// rawKey holds the label values joined by 0xff, which never occurs in
	// UTF-8.
	rawKey string
	// dedup and dedupKey are labels and key with the dedupe suffix, built
	// when the row first collides with another.
	dedup    sample.Labels
	dedupKey string
	// lookups holds the OID each lookup column is read at, "" when the
	// index has too few arcs.
	lookups []string
	// rates holds each counter's previous value.
	rates []counterState
	// disc is the last value of the discontinuity column.
	disc    int64
	discSet bool
}

type cell struct {
	pdu gosnmp.SnmpPDU
	set bool
}

func newTableState(t *compiledTable, target string) *tableState {
	ts := &tableState{t: t, target: target, byIndex: map[string]int{}, labelSeen: map[string]int{},
		spans: make([][2]int, len(t.labels))}
	for i := range t.cols[:t.nwalk] {
		ts.walk = append(ts.walk, cursor{root: t.cols[i].root, prefix: t.cols[i].prefix})
	}
	return ts
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

// add stores one PDU of walked column col. It reports false once the table
// is full, to end the column's walk.
func (ts *tableState) add(col int, pdu *gosnmp.SnmpPDU) bool {
	prefix := ts.t.cols[col].prefix
	if len(pdu.Name) <= len(prefix) || pdu.Name[:len(prefix)] != prefix {
		return true
	}
	index := pdu.Name[len(prefix):]
	r, ok := ts.byIndex[index]
	if !ok {
		if len(ts.rows) >= maxRows {
			ts.overflow++
			return false
		}
		r = ts.newRow(index)
	}
	ts.rows[r].seen = true
	ts.cells[r*len(ts.t.cols)+col] = cell{pdu: *pdu, set: true}
	return true
}

func (ts *tableState) newRow(index string) int {
	t := ts.t
	r := len(ts.rows)
	rw := row{index: strings.Clone(index)}
	if t.nrates > 0 {
		rw.rates = make([]counterState, t.nrates)
	}
	if t.haveLookups {
		rw.lookups = make([]string, len(t.cols)-t.nwalk)
		for k := range rw.lookups {
			c := &t.cols[t.nwalk+k]
			if ix, ok := indexArcs(rw.index, c.arcFrom, c.arcTo); ok {
				rw.lookups[k] = c.root + "." + ix
			}
		}
	}
	ts.rows = append(ts.rows, rw)
	ts.byIndex[rw.index] = r
	ts.added = true
	n := len(t.cols)
	ts.cells = slices.Grow(ts.cells, n)[:len(ts.cells)+n]
	clear(ts.cells[len(ts.cells)-n:])
	return r
}

// sortRows puts the rows in index order after a walk that created rows. A
// walk of columns together creates the rows of a sparse column before
// those of a denser one; the order decides which of two rows named alike
// gets the dedupe suffix, and it must not depend on the walk.
func (ts *tableState) sortRows() {
	if !ts.added {
		return
	}
	ts.added = false
	if slices.IsSortedFunc(ts.rows, func(a, b row) int { return compareOID(a.index, b.index) }) {
		return
	}
	n := len(ts.t.cols)
	perm := make([]int, len(ts.rows))
	for i := range perm {
		perm[i] = i
	}
	slices.SortFunc(perm, func(a, b int) int { return compareOID(ts.rows[a].index, ts.rows[b].index) })
	rows := make([]row, len(ts.rows))
	cells := make([]cell, len(ts.cells))
	for to, from := range perm {
		rows[to] = ts.rows[from]
		copy(cells[to*n:(to+1)*n], ts.cells[from*n:(from+1)*n])
		ts.byIndex[rows[to].index] = to
	}
	ts.rows, ts.cells = rows, cells
}

// indexArcs returns arcs from..to (1-based) of a dotted index, or all of it
// for 0, 0.
func indexArcs(index string, from, to int) (string, bool) {
	if from == 0 {
		return index, index != ""
	}
	arc, begin, end := 1, -1, -1
	if from == 1 {
		begin = 0
	}
	for i := 0; i < len(index); i++ {
		if index[i] != '.' {
			continue
		}
		if arc == to {
			end = i
			break
		}
		arc++
		if arc == from {
			begin = i + 1
		}
	}
	if end < 0 && arc == to {
		end = len(index)
	}
	if begin < 0 || end <= begin {
		return "", false
	}
	return index[begin:end], true
}

// planLookups lists the GETs the seen rows need.
func (ts *tableState) planLookups() {
	ts.lookupOIDs = ts.lookupOIDs[:0]
	ts.lookupDst = ts.lookupDst[:0]
	t := ts.t
	if !t.haveLookups {
		return
	}
	ncols := len(t.cols)
rows:
	for r := range ts.rows {
		rw := &ts.rows[r]
		if !rw.seen {
			continue
		}
		// Only rows that will be labelled: lookups serve labels, and
		// filters and metrics read walked columns only.
		cells := ts.cells[r*ncols : (r+1)*ncols]
		for i := range t.filter {
			if !t.filter[i].holds(cells) {
				continue rows
			}
		}
		if !ts.anyMetric(cells) {
			continue
		}
		for k, oid := range rw.lookups {
			if oid == "" {
				continue
			}
			ts.lookupOIDs = append(ts.lookupOIDs, oid)
			ts.lookupDst = append(ts.lookupDst, r*ncols+t.nwalk+k)
		}
	}
}

// setLookup stores the answer to lookup request i.
func (ts *tableState) setLookup(i int, pdu *gosnmp.SnmpPDU) {
	if present(pdu) {
		ts.cells[ts.lookupDst[i]] = cell{pdu: *pdu, set: true}
	}
}

// present reports whether a GET answer carries a value.
func present(pdu *gosnmp.SnmpPDU) bool {
	switch pdu.Type {
	case gosnmp.NoSuchObject, gosnmp.NoSuchInstance, gosnmp.EndOfMibView, gosnmp.Null:
		return false
	}
	return true
}

// build appends the samples of every row seen in this poll to dst, reports
// unusable values to probs, and forgets rows that were not seen. now stamps
// the samples; clk is the agent's clock for rates.
func (ts *tableState) build(dst []sample.Sample, now time.Time, clk agentClock, probs *problems) []sample.Sample {
	t := ts.t
	ncols := len(t.cols)
	if ts.overflow > 0 {
		probs.add(fmt.Errorf("snmppoll: %s: %s: more than %d rows, %d values ignored", ts.target, t.name, maxRows, ts.overflow))
	}
	iv := ts.clock.interval(clk)
	ts.clock = clk
	clear(ts.labelSeen)
rows:
	for r := range ts.rows {
		rw := &ts.rows[r]
		if !rw.seen {
			continue
		}
		cells := ts.cells[r*ncols : (r+1)*ncols]
		for i := range t.filter {
			if !t.filter[i].holds(cells) {
				continue rows
			}
		}
		disc := ts.discontinuity(rw, cells)
		if !ts.anyMetric(cells) {
			continue
		}
		labels, ok := ts.rowLabels(rw, r, cells, probs)
		if !ok {
			continue
		}
		for i := range t.metrics {
			m := &t.metrics[i]
			src := m.source(cells)
			if src < 0 && m.conv.typ != convInfo || !m.applies(cells) {
				continue
			}
			var pdu *gosnmp.SnmpPDU
			if src >= 0 {
				pdu = &cells[m.from[src]].pdu
			}
			extra, err := m.extraExp(cells)
			var v sample.Value
			if err == nil {
				v, ok, err = m.conv.value(pdu, extra)
			}
			if err != nil {
				ve := &ValueError{Target: ts.target, Table: t.name, Index: rw.index, Err: err}
				if src >= 0 {
					col := &t.cols[m.from[src]]
					ve.Table, ve.Column = col.table, col.name
				}
				probs.add(ve)
				continue
			}
			if !ok {
				continue
			}
			dst = append(dst, sample.Sample{Metric: m.name, Labels: labels, Value: v, Unit: m.unit, TS: now})
			if m.rate >= 0 {
				st := &rw.rates[m.rate]
				if rate, ok := st.update(v.Uint(), pdu.Type, src, iv, disc); ok {
					dst = append(dst, sample.Sample{Metric: m.rateName, Labels: labels, Value: sample.Float(rate), Unit: m.rateUnit, TS: now})
				}
			}
		}
	}
	ts.forgetUnseen()
	return dst
}

// source returns the position in m.from of the first column the row has,
// or -1.
func (m *compiledMetric) source(cells []cell) int {
	for i, c := range m.from {
		if cells[c].set {
			return i
		}
	}
	return -1
}

func (m *compiledMetric) applies(cells []cell) bool {
	for i := range m.when {
		if !m.when[i].holds(cells) {
			return false
		}
	}
	return true
}

// anyMetric reports whether some metric applies to the row, so that rows
// without one (a sensor of a type no metric takes) cost no label work and
// raise no error.
func (ts *tableState) anyMetric(cells []cell) bool {
	for i := range ts.t.metrics {
		m := &ts.t.metrics[i]
		if (m.conv.typ == convInfo || m.source(cells) >= 0) && m.applies(cells) {
			return true
		}
	}
	return false
}

// extraExp is the exponent of an ENTITY-SENSOR-MIB style reading (RFC 3433
// EntitySensorDataScale and EntitySensorPrecision): scale 9 is units, each
// step a factor 1000, and precision counts decimal places.
func (m *compiledMetric) extraExp(cells []cell) (int, error) {
	e := 0
	if m.scaleCol >= 0 {
		c := &cells[m.scaleCol]
		s, ok := integer(&c.pdu)
		if !c.set || !ok || s < 1 || s > 17 {
			return 0, fmt.Errorf("no usable scale (%v %v)", c.pdu.Type, c.pdu.Value)
		}
		e += 3 * int(s-9)
	}
	if m.precCol >= 0 {
		c := &cells[m.precCol]
		p, ok := integer(&c.pdu)
		if !c.set || !ok || p < -8 || p > 9 {
			return 0, fmt.Errorf("no usable precision (%v %v)", c.pdu.Type, c.pdu.Value)
		}
		e -= int(p)
	}
	return e, nil
}

// discontinuity reads the row's discontinuity column (IF-MIB
// ifCounterDiscontinuityTime) and reports whether it changed since the last
// poll.
func (ts *tableState) discontinuity(rw *row, cells []cell) bool {
	if ts.t.disc < 0 {
		return false
	}
	c := &cells[ts.t.disc]
	v, ok := integer(&c.pdu)
	if !c.set || !ok {
		return false
	}
	changed := rw.discSet && v != rw.disc
	rw.disc, rw.discSet = v, true
	return changed
}

// rowLabels returns the labels of the row, reusing the previous slice when
// nothing changed, or false when the row cannot be labelled.
func (ts *tableState) rowLabels(rw *row, r int, cells []cell, probs *problems) (sample.Labels, bool) {
	t := ts.t
	if len(t.labels) == 0 {
		return nil, true
	}
	ts.buf = ts.buf[:0]
	for i := range t.labels {
		l := &t.labels[i]
		if i > 0 {
			ts.buf = append(ts.buf, 0xff)
		}
		start := len(ts.buf)
		if !ts.renderLabel(l, rw, cells, probs) {
			names := make([]string, len(l.from))
			for i, c := range l.from {
				names[i] = t.cols[c].name
			}
			probs.add(&ValueError{Target: ts.target, Table: t.name, Column: strings.Join(names, "/"), Index: rw.index,
				Err: fmt.Errorf("no value for label %s", l.name)})
			return nil, false
		}
		ts.spans[i] = [2]int{start, len(ts.buf)}
	}
	if string(ts.buf) != rw.rawKey || len(rw.labels) != len(t.labels) {
		// A new slice, never an edit in place: samples returned by
		// earlier polls still refer to the old one.
		rw.rawKey = string(ts.buf)
		rw.labels = make(sample.Labels, len(t.labels))
		for i, sp := range ts.spans {
			rw.labels[i] = sample.Label{Name: t.labels[i].name, Value: rw.rawKey[sp[0]:sp[1]]}
		}
		rw.dedup, rw.dedupKey = nil, ""
	}
	first, dup := ts.labelSeen[rw.rawKey]
	if !dup {
		ts.labelSeen[rw.rawKey] = r
		return rw.labels, true
	}
	if t.dedupe < 0 {
		probs.add(&ValueError{Target: ts.target, Table: t.name, Index: rw.index,
			Err: fmt.Errorf("same labels as row %s: %s", ts.rows[first].index, sample.SeriesName("", rw.labels))})
		return nil, false
	}
	if rw.dedup == nil {
		rw.dedup = slices.Clone(rw.labels)
		l := &rw.dedup[t.dedupe]
		l.Value = l.Value + " #" + rw.index
		rw.dedupKey = rw.rawKey + "\xff#" + rw.index
	}
	if _, dup := ts.labelSeen[rw.dedupKey]; dup {
		probs.add(&ValueError{Target: ts.target, Table: t.name, Index: rw.index,
			Err: fmt.Errorf("same labels as another row: %s", sample.SeriesName("", rw.dedup))})
		return nil, false
	}
	ts.labelSeen[rw.dedupKey] = r
	return rw.dedup, true
}

// renderLabel appends the value of l for the row to ts.buf: the first From
// column with printable text, else the first with any value, else the
// template.
func (ts *tableState) renderLabel(l *compiledLabel, rw *row, cells []cell, probs *problems) bool {
	start := len(ts.buf)
	// The first pass reports values of a wrong type; the second would
	// report them again.
	for _, textOnly := range [2]bool{true, false} {
		for _, ci := range l.from {
			if ts.renderColumn(ci, rw, cells, textOnly, textOnly, probs) && len(ts.buf) > start {
				return true
			}
			ts.buf = ts.buf[:start]
		}
	}
	if len(l.tmpl) == 0 {
		return false
	}
	for _, p := range l.tmpl {
		switch {
		case p.col >= 0:
			if !ts.renderColumn(p.col, rw, cells, false, true, probs) {
				ts.buf = ts.buf[:start]
				return false
			}
		case p.index:
			ix, ok := indexArcs(rw.index, p.arc, p.arc)
			if !ok {
				ts.buf = ts.buf[:start]
				return false
			}
			ts.buf = append(ts.buf, ix...)
		default:
			ts.buf = append(ts.buf, p.text...)
		}
	}
	// Columns are clean already; trim and bound the whole in place.
	seg := trimPadding(ts.buf[start:])
	n := copy(ts.buf[start:], seg)
	ts.buf = ts.buf[:start+boundRunes(ts.buf[start:start+n], maxLabelLen)]
	return len(ts.buf) > start
}

// boundRunes returns the length of the longest prefix of b, at most n
// bytes, that ends at a rune boundary.
func boundRunes(b []byte, n int) int {
	if len(b) <= n {
		return len(b)
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return n
}

// renderColumn appends the text of the row's cell for column ci, reporting
// false when the row has no usable value. With textOnly, an OCTET STRING
// that is not printable text counts as no value. With report, a value of
// a wrong type is reported to probs.
func (ts *tableState) renderColumn(ci int, rw *row, cells []cell, textOnly, report bool, probs *problems) bool {
	c := &cells[ci]
	if !c.set {
		return false
	}
	col := &ts.t.cols[ci]
	switch c.pdu.Type {
	case gosnmp.OctetString:
		raw, _ := c.pdu.Value.([]byte)
		b := trimPadding(raw)
		for _, sfx := range col.trimSuffix {
			if bytes.HasSuffix(b, sfx) {
				b = trimPadding(b[:len(b)-len(sfx)])
				break
			}
		}
		if !printable(b) {
			switch {
			case textOnly:
				return false
			case col.hex:
				// All of it: a MAC address may end in zero bytes.
				for i, x := range raw {
					if i > 0 {
						ts.buf = append(ts.buf, ':')
					}
					ts.buf = append(ts.buf, "0123456789abcdef"[x>>4], "0123456789abcdef"[x&0xf])
				}
				return len(raw) > 0
			}
		}
		n := len(ts.buf)
		ts.buf = appendClean(ts.buf, b)
		return len(ts.buf) > n
	case gosnmp.Integer, gosnmp.Gauge32, gosnmp.Uinteger32, gosnmp.TimeTicks, gosnmp.Counter32, gosnmp.Counter64:
		i, ok := asInt64(c.pdu.Value)
		if !ok {
			break
		}
		if name, ok := col.enum[i]; ok {
			ts.buf = append(ts.buf, name...)
		} else {
			ts.buf = strconv.AppendInt(ts.buf, i, 10)
		}
		return true
	}
	if report {
		probs.add(&ValueError{Target: ts.target, Table: col.table, Column: col.name, Index: rw.index,
			Err: fmt.Errorf("%w: want OctetString, got %v", errWrongType, c.pdu.Type)})
	}
	return false
}

// trimPadding drops what agents pad strings with: trailing NULs from C
// strings, and spaces.
func trimPadding(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == 0 || b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// printable reports whether b is UTF-8 text without control characters.
func printable(b []byte) bool {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 || r < 0x20 || r == 0x7f {
			return false
		}
		b = b[n:]
	}
	return true
}

// appendClean appends b trimmed of padding, bounded to maxLabelLen bytes at
// a rune boundary, with invalid UTF-8 replaced by U+FFFD: label values
// travel as protobuf strings and JSON. b must not alias dst's spare
// capacity.
func appendClean(dst, b []byte) []byte {
	b = trimPadding(b)
	start := len(dst)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			if len(dst)-start+3 > maxLabelLen {
				break
			}
			dst = append(dst, "\uFFFD"...)
		} else {
			if len(dst)-start+n > maxLabelLen {
				break
			}
			dst = append(dst, b[:n]...)
		}
		b = b[n:]
	}
	return dst
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
