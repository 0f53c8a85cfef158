package snmppoll

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gosnmp/gosnmp"
)

// column builds n rows of a column under root, values 1..n.
func column(root string, n int) []gosnmp.SnmpPDU {
	var out []gosnmp.SnmpPDU
	for i := 1; i <= n; i++ {
		out = append(out, intPDU(fmt.Sprintf("%s.%d", root, i), i))
	}
	return out
}

func TestWalk(t *testing.T) {
	t.Parallel()
	const a, b, c = "1.3.6.1.4.1.1.1", "1.3.6.1.4.1.1.2", "1.3.6.1.4.1.1.3"
	pdus := slices.Concat(column(a, 30), column(b, 3), column(c, 0), column("1.3.6.1.4.1.2.1", 2))
	for _, tt := range []struct {
		name        string
		bulk        bool
		reps        uint32
		maxVarbinds int
		batch       int
		wantReqs    int
	}{
		// Three columns walked together: 30 rows in 10 repetitions take
		// three requests, and one more to see column a end.
		{name: "bulk", bulk: true, reps: 10, batch: 60, wantReqs: 4},
		// An agent that truncates answers (RFC 3416 §4.2.3) costs more
		// requests, never values.
		{name: "bulk truncated", bulk: true, reps: 10, maxVarbinds: 4, batch: 60, wantReqs: 10},
		// One column per request.
		{name: "bulk batch of one", bulk: true, reps: 50, batch: 1, wantReqs: 3},
		{name: "getnext", bulk: false, batch: 60, wantReqs: 31},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAgent(pdus...)
			f.maxVarbinds = tt.maxVarbinds
			r := &requester{client: f, bulk: tt.bulk, reps: tt.reps, batch: tt.batch}
			cur := []cursor{{root: "." + a, prefix: "." + a + "."}, {root: "." + b, prefix: "." + b + "."}, {root: "." + c, prefix: "." + c + "."}}
			got := map[int][]string{}
			err := r.walk(context.Background(), cur, 0, func(col int, pdu *gosnmp.SnmpPDU) bool {
				got[col] = append(got[col], pdu.Name)
				return true
			})
			if err != nil {
				t.Fatal(err)
			}
			for col, n := range []int{30, 3, 0} {
				if len(got[col]) != n {
					t.Errorf("column %d: %d values %q, want %d", col, len(got[col]), got[col], n)
				}
				for i, name := range got[col] {
					if want := fmt.Sprintf("%s.%d", cur[col].root, i+1); name != want {
						t.Errorf("column %d value %d = %s, want %s", col, i, name, want)
					}
				}
			}
			if n := len(f.requestLog()); n != tt.wantReqs {
				t.Errorf("%d requests, want %d: %q", n, tt.wantReqs, f.requestLog())
			}
		})
	}
}

// TestWalkV1End checks an SNMPv1 agent's noSuchName at the end of its MIB
// (RFC 1157 §4.1.3): the column ends, the others go on.
func TestWalkV1End(t *testing.T) {
	t.Parallel()
	const a, b = "1.3.6.1.4.1.1.1", "1.3.6.1.4.1.1.2"
	f := newFakeAgent(slices.Concat(column(a, 2), column(b, 3))...)
	f.v1 = true
	f.remove("1.3.6.1.2.1.1") // nothing after b
	r := &requester{client: f, reps: 10, batch: 60}
	cur := []cursor{{root: "." + a, prefix: "." + a + "."}, {root: "." + b, prefix: "." + b + "."}}
	n := 0
	if err := r.walk(context.Background(), cur, 0, func(int, *gosnmp.SnmpPDU) bool { n++; return true }); err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Errorf("%d values, want 5", n)
	}
}

// scripted is an snmpClient that answers from a script, for the answers a
// well-behaved fake never gives.
type scripted struct {
	fakeAgent
	answers []*gosnmp.SnmpPacket
	errs    []error
	n       int
}

func (s *scripted) next() (*gosnmp.SnmpPacket, error) {
	i := s.n
	s.n++
	if i < len(s.errs) && s.errs[i] != nil {
		return nil, s.errs[i]
	}
	if i >= len(s.answers) {
		return nil, errors.New("script exhausted")
	}
	return s.answers[i], nil
}

func (s *scripted) Get([]string) (*gosnmp.SnmpPacket, error)                    { return s.next() }
func (s *scripted) GetNext([]string) (*gosnmp.SnmpPacket, error)                { return s.next() }
func (s *scripted) GetBulk([]string, uint8, uint32) (*gosnmp.SnmpPacket, error) { return s.next() }

func answer(pdus ...gosnmp.SnmpPDU) *gosnmp.SnmpPacket {
	return &gosnmp.SnmpPacket{PDUType: gosnmp.GetResponse, Variables: pdus}
}

func TestWalkBadAnswers(t *testing.T) {
	t.Parallel()
	const a = "1.3.6.1.4.1.1.1"
	for _, tt := range []struct {
		name    string
		answers []*gosnmp.SnmpPacket
		want    string
		is      error
	}{
		{"same OID again", []*gosnmp.SnmpPacket{answer(intPDU(a+".5", 1)), answer(intPDU(a+".5", 1))},
			"OID not increasing: .1.3.6.1.4.1.1.1.5 after .1.3.6.1.4.1.1.1.5", ErrNotIncreasing},
		{"going back", []*gosnmp.SnmpPacket{answer(intPDU(a+".5", 1), intPDU(a+".3", 1))},
			"OID not increasing: .1.3.6.1.4.1.1.1.3 after .1.3.6.1.4.1.1.1.5", ErrNotIncreasing},
		{"genErr", []*gosnmp.SnmpPacket{{Error: gosnmp.GenErr, ErrorIndex: 1}}, "agent answered GenErr for .1.3.6.1.4.1.1.1", nil},
		{"empty", []*gosnmp.SnmpPacket{answer()}, "empty answer", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &scripted{answers: tt.answers}
			r := &requester{client: s, bulk: true, reps: 10, batch: 60}
			err := r.walk(context.Background(), []cursor{{root: "." + a, prefix: "." + a + "."}}, 0, func(int, *gosnmp.SnmpPDU) bool { return true })
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
		})
	}
}

// TestWalkTooBig checks that a tooBig answer halves the repetitions, then
// the columns per request.
func TestWalkTooBig(t *testing.T) {
	t.Parallel()
	const a, b = "1.3.6.1.4.1.1.1", "1.3.6.1.4.1.1.2"
	tooBig := &gosnmp.SnmpPacket{Error: gosnmp.TooBig}
	s := &scripted{answers: []*gosnmp.SnmpPacket{tooBig, tooBig, answer(intPDU(a+".1", 1)), answer(intPDU(a+"9", 1)), answer(intPDU(b+".1", 1)), answer(intPDU("1.3.6.1.5", 1))}}
	r := &requester{client: s, bulk: true, reps: 2, batch: 60}
	var got []string
	err := r.walk(context.Background(), []cursor{{root: "." + a, prefix: "." + a + "."}, {root: "." + b, prefix: "." + b + "."}}, 0,
		func(_ int, pdu *gosnmp.SnmpPDU) bool { got = append(got, pdu.Name); return true })
	if err != nil {
		t.Fatal(err)
	}
	if r.batch != 1 || !slices.Equal(got, []string{"." + a + ".1", "." + b + ".1"}) {
		t.Errorf("batch %d, values %q", r.batch, got)
	}
}

func TestGet(t *testing.T) {
	t.Parallel()
	var oids []string
	var pdus []gosnmp.SnmpPDU
	for i := 1; i <= 130; i++ {
		oids = append(oids, fmt.Sprintf(".1.3.6.1.4.1.1.%d.0", i))
		if i%10 != 0 {
			pdus = append(pdus, intPDU(fmt.Sprintf("1.3.6.1.4.1.1.%d.0", i), i))
		}
	}
	for _, v1 := range []bool{false, true} {
		t.Run(fmt.Sprint("v1=", v1), func(t *testing.T) {
			t.Parallel()
			f := newFakeAgent(pdus...)
			f.v1 = v1
			r := &requester{client: f, batch: 60}
			got := make([]int, len(oids))
			err := r.get(context.Background(), oids, func(i int, pdu *gosnmp.SnmpPDU) {
				if pdu.Name != oids[i] {
					t.Errorf("answer %d names %s, want %s", i, pdu.Name, oids[i])
				}
				if present(pdu) {
					got[i] = pdu.Value.(int)
				} else {
					got[i] = -1
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range got {
				want := i + 1
				if want%10 == 0 {
					want = -1
				}
				if v != want {
					t.Errorf("value %d = %d, want %d", i, v, want)
				}
			}
			// 130 OIDs: three requests of at most 60; SNMPv1 asks again
			// for each missing object.
			want := 3
			if v1 {
				want += 13
			}
			if n := len(f.requestLog()); n != want {
				t.Errorf("%d requests, want %d", n, want)
			}
		})
	}
}

func TestGetBadAnswers(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		answer *gosnmp.SnmpPacket
		want   string
	}{
		{"short", answer(intPDU("1.3.6.1.2.1.1.3.0", 1)), "1 values in the answer to a GET of 2"},
		{"renamed", answer(intPDU("1.3.6.1.2.1.1.3.0", 1), intPDU("1.3.6.1.2.1.1.9.0", 1)), "answer names .1.3.6.1.2.1.1.9.0 for .1.3.6.1.2.1.1.2.0"},
		{"noAccess", &gosnmp.SnmpPacket{Error: gosnmp.NoAccess, ErrorIndex: 2}, "agent answered NoAccess for .1.3.6.1.2.1.1.2.0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &scripted{answers: []*gosnmp.SnmpPacket{tt.answer}}
			r := &requester{client: s, batch: 60}
			err := r.get(context.Background(), []string{sysUpTime0, sysObjectID0}, func(int, *gosnmp.SnmpPDU) {})
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCompareOID(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"1.3.6.1", ".1.3.6.1", 0},
		{"1.3.6.1.2", "1.3.6.1.10", -1},
		{"1.3.6.1.10", "1.3.6.1.2", 1},
		{"1.3.6", "1.3.6.1", -1},
		{"1.3.6.1", "1.3.6", 1},
		{".1.3.6.1.4.1.9.9.13.1.3.1.3.1008", ".1.3.6.1.4.1.9.9.13.1.3.1.3.2008", -1},
		{"", "", 0},
		{"", "1", -1},
	} {
		if got := compareOID(tt.a, tt.b); got != tt.want {
			t.Errorf("compareOID(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { compareOID(".1.3.6.1.2.1.2.2.1.14.10101", ".1.3.6.1.2.1.2.2.1.14.10102") }); n != 0 {
		t.Errorf("compareOID allocates %v times", n)
	}
}

func TestIndexArcs(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		index    string
		from, to int
		want     string
		ok       bool
	}{
		{"0.5.1", 0, 0, "0.5.1", true},
		{"0.5.1", 1, 1, "0", true},
		{"0.5.1", 2, 2, "5", true},
		{"0.5.1", 3, 3, "1", true},
		{"0.5.1", 2, 3, "5.1", true},
		{"0.5.1", 4, 4, "", false},
		{"0.5.1", 3, 4, "", false},
		{"17", 1, 1, "17", true},
		{"", 0, 0, "", false},
	} {
		got, ok := indexArcs(tt.index, tt.from, tt.to)
		if got != tt.want || ok != tt.ok {
			t.Errorf("indexArcs(%q, %d, %d) = %q, %v; want %q, %v", tt.index, tt.from, tt.to, got, ok, tt.want, tt.ok)
		}
	}
	if !strings.Contains(fmt.Sprint(parseArcs("0")), "want all") {
		t.Error("parseArcs accepted arc 0")
	}
}

// TestRowsInIndexOrder walks dense columns together with a sparse one:
// ifLastChange's only row, 100, arrives before ifDescr's row 2, yet rows
// (and so samples and the dedupe suffix) follow the index.
func TestRowsInIndexOrder(t *testing.T) {
	t.Parallel()
	f := newFakeAgent(
		octets(oidIfDescr+".1", "a"), octets(oidIfDescr+".2", "same"), octets(oidIfDescr+".100", "same"),
		intPDU(oidIfOperStatus+".1", 1), intPDU(oidIfOperStatus+".2", 1), intPDU(oidIfOperStatus+".100", 2),
		timeticks(oidIfLastChange+".100", 100),
	)
	p := newTestPoller(t, f, "2c", "if-mib")
	got, err := p.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`if_oper_up{ifname="a"} bool true bool`,
		`if_oper_up{ifname="same"} bool true bool`,
		`if_oper_up{ifname="same #100"} bool false bool`,
		`if_last_change_seconds{ifname="same #100"} float 1 seconds`,
	}
	if r := render(got); !slices.Equal(r, want) {
		t.Errorf("samples %q, want %q", r, want)
	}
}
