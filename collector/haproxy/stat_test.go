package haproxy

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// row is the comparable part of a Stat.
type row struct {
	Proxy, Server, Status, CheckStatus string
	Type                               ProxyType
	Weight, UWeight                    int
	Scur, Stot, Hrsp5xx                uint64
	QTime, CTime, RTime, TTime         time.Duration
}

func rowOf(s Stat) row {
	return row{
		Proxy: s.Proxy, Server: s.Server, Status: s.Status, CheckStatus: s.CheckStatus,
		Type: s.Type, Weight: s.Weight, UWeight: s.UWeight,
		Scur: s.Scur, Stot: s.Stot, Hrsp5xx: s.Hrsp5xx,
		QTime: s.QTime, CTime: s.CTime, RTime: s.RTime, TTime: s.TTime,
	}
}

func rowsOf(stats []Stat) []row {
	out := make([]row, len(stats))
	for i, s := range stats {
		out[i] = rowOf(s)
	}
	return out
}

func readCapture(tb testing.TB) []byte {
	tb.Helper()
	data, err := os.ReadFile("testdata/show_stat_2.6.csv")
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

const ms = time.Millisecond

// TestParseStatCapture checks every row of a `show stat` answer captured
// from HAProxy 2.6.12 (see testdata/README.md).
func TestParseStatCapture(t *testing.T) {
	t.Parallel()
	stats, err := ParseStat(readCapture(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []row{
		{Proxy: "fe", Server: "FRONTEND", Type: Frontend, Status: "OPEN", Stot: 127, Hrsp5xx: 7},
		{Proxy: "fe", Server: "sock-1", Type: Listener, Status: "OPEN", Stot: 127},
		{Proxy: "be", Server: "s1", Type: Server, Status: "UP", CheckStatus: "L4OK", Weight: 100, UWeight: 100, Stot: 26, Hrsp5xx: 2, RTime: 1 * ms, TTime: 1 * ms},
		{Proxy: "be", Server: "s2", Type: Server, Status: "UP", CheckStatus: "L4OK", Weight: 50, UWeight: 50, Stot: 26, Hrsp5xx: 2, RTime: 1 * ms, TTime: 1 * ms},
		{Proxy: "be", Server: "s3", Type: Server, Status: "DRAIN", CheckStatus: "L4OK", Weight: 100, UWeight: 100, Stot: 25, Hrsp5xx: 1, RTime: 1 * ms, TTime: 1 * ms},
		{Proxy: "be", Server: "s4", Type: Server, Status: "DOWN 1/3", CheckStatus: "L4OK", Weight: 100, UWeight: 100},
		{Proxy: "be", Server: "s5", Type: Server, Status: "MAINT", Weight: 100, UWeight: 100, Stot: 25, Hrsp5xx: 1, RTime: 1 * ms, TTime: 1 * ms},
		{Proxy: "be", Server: "s6", Type: Server, Status: "no check", Weight: 100, UWeight: 100, Stot: 25, Hrsp5xx: 1, RTime: 1 * ms, TTime: 1 * ms},
		{Proxy: "be", Server: "BACKEND", Type: Backend, Status: "UP", Weight: 250, UWeight: 250, Stot: 127, Hrsp5xx: 7, RTime: 1 * ms, TTime: 1 * ms},
	}
	got := rowsOf(stats)
	if len(got) != len(want) {
		t.Fatalf("got %d rows, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}

	s1 := stats[2]
	for _, tc := range []struct {
		col, want string
		ok        bool
	}{
		{"pxname", "be", true},
		{"lbtot", "26", true},
		{"check_desc", "Layer4 check passed", true},
		{"addr", "127.0.0.1:18081", true},
		{"last_chk", "", true},
		{"no_such_column", "", false},
		{"", "", false},
	} {
		v, ok := s1.Field(tc.col)
		if v != tc.want || ok != tc.ok {
			t.Errorf("Field(%q) = %q, %v; want %q, %v", tc.col, v, ok, tc.want, tc.ok)
		}
	}
	if cols := s1.Columns(); len(cols) != 129 || cols[0] != "pxname" || cols[99] != "uweight" {
		t.Errorf("Columns() = %d names, [0]=%q [99]=%q; want 129, pxname, uweight", len(cols), cols[0], cols[99])
	}

	servers := Servers(stats)
	var names []string
	for _, s := range servers {
		if !s.IsServer() {
			t.Errorf("Servers returned %s/%s of type %v", s.Proxy, s.Server, s.Type)
		}
		names = append(names, s.Server)
	}
	if want := []string{"s1", "s2", "s3", "s4", "s5", "s6"}; !reflect.DeepEqual(names, want) {
		t.Errorf("Servers = %v, want %v", names, want)
	}
}

// TestParseStatByHeader shows that columns are found by name: the same
// values in another order, with unknown columns and without optional ones,
// parse the same.
func TestParseStatByHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []row
	}{
		{
			name: "reordered with an unknown column",
			in: "# rtime,svname,new_col,type,pxname,status,ttime,weight,scur,stot,hrsp_5xx,qtime,ctime,uweight,check_status,\n" +
				"250,web1,x,2,be_app,UP 1/3,1200,64,3,99,4,7,9,32,L7OK,\n",
			want: []row{{Proxy: "be_app", Server: "web1", Type: Server, Status: "UP 1/3", CheckStatus: "L7OK",
				Weight: 64, UWeight: 32, Scur: 3, Stot: 99, Hrsp5xx: 4,
				QTime: 7 * ms, CTime: 9 * ms, RTime: 250 * ms, TTime: 1200 * ms}},
		},
		{
			name: "only required columns, no trailing comma",
			in:   "# pxname,svname,type\nbe,s1,2\nbe,BACKEND,1\n",
			want: []row{{Proxy: "be", Server: "s1", Type: Server}, {Proxy: "be", Server: "BACKEND", Type: Backend}},
		},
		{
			name: "empty numeric fields are zero",
			in:   "# pxname,svname,type,weight,uweight,scur,stot,rtime,ttime,hrsp_5xx\nbe,s1,2,,,,,,,\n",
			want: []row{{Proxy: "be", Server: "s1", Type: Server}},
		},
		{
			name: "header only",
			in:   "# pxname,svname,type,\n\n",
			want: []row{},
		},
		{
			name: "blank lines and CRLF",
			in:   "# pxname,svname,type,status\r\n\r\nbe,s1,2,no check\r\n\r\n",
			want: []row{{Proxy: "be", Server: "s1", Type: Server, Status: "no check"}},
		},
		{
			name: "quoted field with a comma",
			in:   "# pxname,svname,type,check_status,check_desc\nbe,s1,2,L7STS,\"HTTP status check returned code <3C>503<3E>, \"\"down\"\"\"\n",
			want: []row{{Proxy: "be", Server: "s1", Type: Server, CheckStatus: "L7STS"}},
		},
		{
			name: "largest millisecond count",
			in:   "# pxname,svname,type,ttime\nbe,s1,2,9223372036854\n",
			want: []row{{Proxy: "be", Server: "s1", Type: Server, TTime: 9223372036854 * ms}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stats, err := ParseStat([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if got := rowsOf(stats); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseStatQuotedField(t *testing.T) {
	t.Parallel()
	in := "# pxname,svname,type,check_desc,\nbe,s1,2,\"a, \"\"b\"\"\",\n"
	stats, err := ParseStat([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := stats[0].Field("check_desc"); v != `a, "b"` {
		t.Errorf("check_desc = %q, want %q", v, `a, "b"`)
	}
}

// TestParseStatMalformed checks that broken answers are errors that say
// where, and never a panic or a silently wrong row.
func TestParseStatMalformed(t *testing.T) {
	t.Parallel()
	capture := string(readCapture(t))
	lines := strings.Split(capture, "\n")
	header := lines[0] + "\n"
	s1 := lines[3] // be,s1,...

	tests := []struct {
		name string
		in   string
		want []string // substrings of the error
	}{
		{name: "empty input", in: "", want: []string{"empty input"}},
		{name: "only blank lines", in: "\n\n", want: []string{"empty input"}},
		{name: "header missing", in: s1 + "\n", want: []string{"line 1", "no header row", `"be,s1,`}},
		{name: "refused command", in: "Permission denied\n\n", want: []string{"line 1", "no header row", `"Permission denied"`}},
		{name: "header without svname", in: "# pxname,type\nbe,2\n", want: []string{"line 1", `no "svname" column`}},
		{name: "header without type", in: "# pxname,svname\nbe,s1\n", want: []string{`no "type" column`}},
		{
			name: "truncated row",
			in:   header + s1[:len(s1)/2] + "\n",
			want: []string{"line 2", "columns, header has 129"},
		},
		{
			name: "truncated capture",
			in:   capture[:len(capture)-200],
			want: []string{"line 10", "columns, header has 129"},
		},
		{
			name: "extra columns",
			in:   header + s1 + "\n" + s1 + "extra,\n",
			want: []string{"line 3", "130 columns, header has 129"},
		},
		{
			name: "non-numeric rtime",
			in:   header + strings.Replace(s1, ",0,0,1,1,,,,Layer4", ",0,0,abc,1,,,,Layer4", 1) + "\n",
			want: []string{"line 2", "column 61 (rtime)", `"abc"`},
		},
		{
			name: "negative stot",
			in:   "# pxname,svname,type,stot\nbe,s1,2,-4\n",
			want: []string{"line 2", "column 4 (stot)", `"-4"`},
		},
		{
			name: "weight overflow",
			in:   "# pxname,svname,type,weight\nbe,s1,2,99999999999999999999\n",
			want: []string{"line 2", "column 4 (weight)", "out of range"},
		},
		{
			name: "millisecond overflow",
			in:   "# pxname,svname,type,ttime\nbe,s1,2,9223372036855\n",
			want: []string{"line 2", "column 4 (ttime)", "out of range"},
		},
		{
			name: "empty type",
			in:   "# pxname,svname,type\nbe,s1,2\nbe,s2,\n",
			want: []string{"line 3", "column 3 (type)", "empty"},
		},
		{
			name: "bare quote",
			in:   "# pxname,svname,type\nbe,s\"1,2\n",
			want: []string{"line 2", "column 5", "bare"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stats, err := ParseStat([]byte(tc.in))
			if err == nil {
				t.Fatalf("no error; got %d rows", len(stats))
			}
			if stats != nil {
				t.Errorf("rows returned with error: %d", len(stats))
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %q does not match ErrMalformed", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "haproxy: parse stat: ") {
				t.Errorf("error %q lacks the package prefix", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestProxyTypeString(t *testing.T) {
	t.Parallel()
	for typ, want := range map[ProxyType]string{
		Frontend: "frontend", Backend: "backend", Server: "server", Listener: "listener", 7: "type(7)",
	} {
		if got := typ.String(); got != want {
			t.Errorf("ProxyType(%d).String() = %q, want %q", int(typ), got, want)
		}
	}
}

// FuzzParseStat checks that no input makes the parser panic, and that
// whatever it accepts is self-consistent.
func FuzzParseStat(f *testing.F) {
	f.Add(readCapture(f))
	f.Add([]byte("# pxname,svname,type\nbe,s1,2\n"))
	f.Add([]byte("# pxname,svname,type,rtime\nbe,s1,2,x\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		stats, err := ParseStat(data)
		if err != nil {
			if stats != nil {
				t.Fatalf("rows returned with error %v", err)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		for i, s := range stats {
			if v, ok := s.Field("pxname"); !ok || v != s.Proxy {
				t.Fatalf("row %d: Field(pxname) = %q, %v; Proxy = %q", i, v, ok, s.Proxy)
			}
			if v, ok := s.Field("svname"); !ok || v != s.Server {
				t.Fatalf("row %d: Field(svname) = %q, %v; Server = %q", i, v, ok, s.Server)
			}
			if len(s.fields) != len(s.Columns()) {
				t.Fatalf("row %d: %d fields, %d columns", i, len(s.fields), len(s.Columns()))
			}
		}
	})
}

func BenchmarkParseStat(b *testing.B) {
	data := readCapture(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseStat(data); err != nil {
			b.Fatal(err)
		}
	}
}
