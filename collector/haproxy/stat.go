package haproxy

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// ProxyType is the value of the `type` column of `show stat`
// (HAProxy management guide, section 9.1, field 32).
type ProxyType int

// Values of the `type` column.
const (
	Frontend ProxyType = 0
	Backend  ProxyType = 1
	Server   ProxyType = 2
	Listener ProxyType = 3
)

func (t ProxyType) String() string {
	switch t {
	case Frontend:
		return "frontend"
	case Backend:
		return "backend"
	case Server:
		return "server"
	case Listener:
		return "listener"
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// Stat is one row of `show stat`: a frontend, a backend, a server or a
// listener. The typed fields are the ones the collector acts on; every
// other column stays reachable by name through Field. Empty CSV fields
// read as zero.
type Stat struct {
	Proxy  string    // pxname
	Server string    // svname: a server name, or FRONTEND/BACKEND, or a listener name
	Type   ProxyType // type

	// Status is the status column as HAProxy prints it (management guide
	// section 9.1, field 17): "UP", "DOWN", "DRAIN", "NOLB", "MAINT",
	// "MAINT(via)", "no check", "OPEN", or a transition such as "UP 1/3"
	// while health checks count towards fall or rise.
	Status      string
	CheckStatus string // check_status, e.g. "L4OK", "L7STS", "L4CON"

	Weight  int // weight: effective weight (a backend shows the sum)
	UWeight int // uweight: user weight, absent before HAProxy 2.4

	Scur    uint64 // scur: current sessions
	Stot    uint64 // stot: cumulative sessions
	Hrsp5xx uint64 // hrsp_5xx: HTTP responses with a 5xx code

	// Average times over the last 1024 requests (qtime, ctime, rtime,
	// ttime), reported by HAProxy in milliseconds.
	QTime time.Duration // time queued
	CTime time.Duration // time to connect to the server
	RTime time.Duration // time to the server's response headers
	TTime time.Duration // total session time

	cols   *columns
	fields []string
}

// IsServer reports whether the row describes a backend server, the only
// kind of row that can be drained.
func (s *Stat) IsServer() bool { return s.Type == Server }

// Field returns the raw text of the column called name (as written in the
// header row, e.g. "lbtot" or "check_desc"). ok is false when this HAProxy
// version has no such column.
func (s *Stat) Field(name string) (value string, ok bool) {
	if s.cols == nil {
		return "", false
	}
	i, ok := s.cols.index[name]
	if !ok || i >= len(s.fields) {
		return "", false
	}
	return s.fields[i], true
}

// Columns returns the column names of the header the row was parsed with,
// in order. The caller must not modify the slice.
func (s *Stat) Columns() []string {
	if s.cols == nil {
		return nil
	}
	return s.cols.names
}

// Servers returns the rows of stats that describe servers, in order.
func Servers(stats []Stat) []Stat {
	var out []Stat
	for i := range stats {
		if stats[i].IsServer() {
			out = append(out, stats[i])
		}
	}
	return out
}

// columns is the parsed header row, shared by every Stat of one answer.
type columns struct {
	names []string
	index map[string]int
}

// Column names of the typed fields, from the header row of HAProxy's CSV
// (management guide, section 9.1).
const (
	colPxname      = "pxname"
	colSvname      = "svname"
	colType        = "type"
	colStatus      = "status"
	colCheckStatus = "check_status"
	colWeight      = "weight"
	colUWeight     = "uweight"
	colScur        = "scur"
	colStot        = "stot"
	colHrsp5xx     = "hrsp_5xx"
	colQTime       = "qtime"
	colCTime       = "ctime"
	colRTime       = "rtime"
	colTTime       = "ttime"
)

// maxMillis is the largest millisecond count a time.Duration can hold.
const maxMillis = math.MaxInt64 / int64(time.Millisecond)

// ErrMalformed marks an answer that is not what HAProxy documents for the
// command: a `show stat` without its CSV header row, a row or line of the
// wrong width, a non-numeric value where a number belongs, a `show info`
// without a Pid. HAProxy answers a refused command (a socket without the
// needed level, say) with a line of text instead, which lands here too.
var ErrMalformed = errors.New("haproxy: malformed runtime API answer")

// malformedError carries a parse error that names the line and column, and
// matches ErrMalformed without repeating its text.
type malformedError struct{ err error }

func malformed(err error) error { return &malformedError{err: err} }

func (e *malformedError) Error() string        { return e.err.Error() }
func (e *malformedError) Unwrap() error        { return e.err }
func (e *malformedError) Is(target error) bool { return target == ErrMalformed }

// ParseStat parses the CSV answer of `show stat`. Columns are found by
// the header row, the first line, which starts with "# ": HAProxy adds
// columns between versions, so positions are not stable. The pxname,
// svname and type columns are required; any other typed column that is
// missing reads as zero.
//
// A row with a different number of columns from the header, or a
// non-numeric value in a numeric column, is an error naming the line and
// the column.
func ParseStat(data []byte) ([]Stat, error) {
	stats, err := parseStat(data)
	if err != nil {
		return nil, malformed(fmt.Errorf("haproxy: parse stat: %w", err))
	}
	return stats, nil
}

// parseStat is ParseStat with errors that name only the line and column,
// for callers that add their own context.
func parseStat(data []byte) ([]Stat, error) {
	r := csv.NewReader(bytes.NewReader(data))
	// Column counts are checked against the header below, to name the line
	// in HAProxy's terms; HAProxy quotes fields that need it (csv_enc), so
	// strict quoting stays on.
	r.FieldsPerRecord = -1

	head, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("empty input")
	}
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	line, _ := r.FieldPos(0)
	if !strings.HasPrefix(head[0], "# ") {
		return nil, fmt.Errorf("line %d: no header row starting with %q (got %q)",
			line, "# ", firstLine(data))
	}
	cols := &columns{names: head, index: make(map[string]int, len(head))}
	head[0] = strings.TrimPrefix(head[0], "# ")
	for i, name := range head {
		if name == "" {
			continue // HAProxy ends every line with a comma
		}
		if _, dup := cols.index[name]; !dup {
			cols.index[name] = i
		}
	}
	for _, name := range []string{colPxname, colSvname, colType} {
		if _, ok := cols.index[name]; !ok {
			return nil, fmt.Errorf("line %d: header has no %q column", line, name)
		}
	}
	idx := func(name string) int {
		if i, ok := cols.index[name]; ok {
			return i
		}
		return -1
	}
	p := rowParser{
		pxname: idx(colPxname), svname: idx(colSvname), typ: idx(colType),
		status: idx(colStatus), checkStatus: idx(colCheckStatus),
		weight: idx(colWeight), uweight: idx(colUWeight),
		scur: idx(colScur), stot: idx(colStot), hrsp5xx: idx(colHrsp5xx),
		qtime: idx(colQTime), ctime: idx(colCTime), rtime: idx(colRTime), ttime: idx(colTTime),
		names: head,
	}

	stats := make([]Stat, 0, bytes.Count(data, []byte{'\n'}))
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err // a *csv.ParseError names line and column
		}
		line, _ := r.FieldPos(0)
		if len(rec) != len(head) {
			return nil, fmt.Errorf("line %d: %d columns, header has %d",
				line, len(rec), len(head))
		}
		st := Stat{cols: cols, fields: rec}
		if err := p.fill(&st, rec); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		stats = append(stats, st)
	}
	return stats, nil
}

// rowParser holds the position of each typed column (-1 when absent).
type rowParser struct {
	pxname, svname, typ, status, checkStatus int
	weight, uweight                          int
	scur, stot, hrsp5xx                      int
	qtime, ctime, rtime, ttime               int
	names                                    []string
}

func (p *rowParser) fill(st *Stat, rec []string) error {
	st.Proxy = rec[p.pxname]
	st.Server = rec[p.svname]
	st.Status = p.str(rec, p.status)
	st.CheckStatus = p.str(rec, p.checkStatus)
	if rec[p.typ] == "" {
		return p.colErr(p.typ, rec[p.typ], errors.New("empty"))
	}
	typ, err := p.int(rec, p.typ)
	if err != nil {
		return err
	}
	st.Type = ProxyType(typ)
	if st.Weight, err = p.int(rec, p.weight); err != nil {
		return err
	}
	if st.UWeight, err = p.int(rec, p.uweight); err != nil {
		return err
	}
	if st.Scur, err = p.uint(rec, p.scur); err != nil {
		return err
	}
	if st.Stot, err = p.uint(rec, p.stot); err != nil {
		return err
	}
	if st.Hrsp5xx, err = p.uint(rec, p.hrsp5xx); err != nil {
		return err
	}
	if st.QTime, err = p.millis(rec, p.qtime); err != nil {
		return err
	}
	if st.CTime, err = p.millis(rec, p.ctime); err != nil {
		return err
	}
	if st.RTime, err = p.millis(rec, p.rtime); err != nil {
		return err
	}
	if st.TTime, err = p.millis(rec, p.ttime); err != nil {
		return err
	}
	return nil
}

func (p *rowParser) str(rec []string, i int) string {
	if i < 0 {
		return ""
	}
	return rec[i]
}

func (p *rowParser) int(rec []string, i int) (int, error) {
	if i < 0 || rec[i] == "" {
		return 0, nil
	}
	v, err := strconv.Atoi(rec[i])
	if err != nil {
		return 0, p.colErr(i, rec[i], err)
	}
	return v, nil
}

func (p *rowParser) uint(rec []string, i int) (uint64, error) {
	if i < 0 || rec[i] == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(rec[i], 10, 64)
	if err != nil {
		return 0, p.colErr(i, rec[i], err)
	}
	return v, nil
}

func (p *rowParser) millis(rec []string, i int) (time.Duration, error) {
	if i < 0 || rec[i] == "" {
		return 0, nil
	}
	v, err := strconv.ParseUint(rec[i], 10, 64)
	if err == nil && v > uint64(maxMillis) {
		err = strconv.ErrRange
	}
	if err != nil {
		return 0, p.colErr(i, rec[i], err)
	}
	return time.Duration(v) * time.Millisecond, nil
}

// colErr names the column both by header name and by 1-based position, the
// way a person counts columns in the CSV.
func (p *rowParser) colErr(i int, val string, err error) error {
	if ne, ok := err.(*strconv.NumError); ok {
		err = ne.Err // the value is quoted below already
	}
	return fmt.Errorf("column %d (%s): value %q: %w", i+1, p.names[i], val, err)
}

// firstLine returns the first line of data, shortened, for error messages:
// HAProxy answers a refused or unknown command with a line of text
// instead of CSV.
func firstLine(data []byte) string {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		data = data[:i]
	}
	const max = 80
	if len(data) > max {
		data = data[:max]
	}
	return string(data)
}
