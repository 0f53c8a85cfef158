package snmppoll

import (
	"context"
	"io/fs"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/rackwatch/rackwatch/edge/configfile/configfiletest"
	"github.com/rackwatch/rackwatch/edge/sample"
)

// FuzzProfile loads arbitrary bytes as a profile file of a profile
// directory, as Opts.ProfileDirs does, and compiles it. Besides not
// panicking, every problem must be an *configfile.Error naming the file and
// a line it has, and a profile that compiles on its own must compile as
// well among the built-in ones, replacing the one of the same name. The
// seed corpus holds the built-in profiles.
func FuzzProfile(f *testing.F) {
	files, err := fs.Glob(embedded, "profiles/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := fs.ReadFile(embedded, name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	base, err := builtinSet()
	if err != nil {
		f.Fatal(err)
	}
	var builtins []*Profile
	for _, cp := range base.profiles {
		builtins = append(builtins, cp.src)
	}
	const display = "profiles.d"
	path := display + "/p.yaml"
	f.Fuzz(func(t *testing.T, b []byte) {
		fsys := fstest.MapFS{"p.yaml": {Data: b}}
		ps, err := readProfiles(fsys, ".", display, nil)
		if err == nil {
			_, err = compileSet(ps)
		}
		if err != nil {
			configfiletest.CheckErrors(t, path, b, err)
			return
		}
		merged, err := readProfiles(fsys, ".", display, builtins)
		if err != nil {
			t.Fatalf("read among the built-ins: %v", err)
		}
		set, err := compileSet(merged)
		if err != nil {
			t.Fatalf("compiles alone but not among the built-ins: %v", err)
		}
		if cp := set.lookup(ps[0].Name); cp == nil || cp.src.file == nil || cp.src.file.Path != path {
			t.Fatalf("profile %q of %s is not in the merged set", ps[0].Name, path)
		}
	})
}

// FuzzPoll polls an agent whose objects the input makes up: what a switch
// or a BMC on the network answers, well-formed as gosnmp decodes it, with
// any types, values and indexes. Each record of the input is a column
// (of the built-in profiles or the system group), an index, an SNMP type,
// a length and up to 15 bytes of value. Polling twice with every built-in profile,
// 15 s apart so rates and discontinuities are computed, must neither
// panic nor yield a sample the catalogue does not describe: its name, its
// kind of value and its labels.
func FuzzPoll(f *testing.F) {
	oids, names := pollObjects(f)
	// Seeds: an interface row with counters, a temperature sensor row,
	// and a sysUpTime of the wrong type.
	f.Add([]byte{3, 1, 1, 1, 'x', 4, 1, 3, 1, 9, 5, 1, 0, 1, 2}, false)
	f.Add([]byte{1, 0, 8, 7, 1, 3, 6, 1, 4, 1, 9, 12, 0x81, 6, 8, 0, 0, 0, 1, 0, 0, 0, 0}, false)
	f.Add([]byte{2, 0, 1, 0, 6, 7, 0x80, 2, 1, 0xff, 6, 7, 0x80, 3, 1, 0x10}, true)
	types := []gosnmp.Asn1BER{gosnmp.Integer, gosnmp.OctetString, gosnmp.Counter32, gosnmp.Gauge32, gosnmp.TimeTicks,
		gosnmp.Counter64, gosnmp.Uinteger32, gosnmp.IPAddress, gosnmp.ObjectIdentifier, gosnmp.Opaque, gosnmp.OpaqueFloat,
		gosnmp.OpaqueDouble, gosnmp.Null, gosnmp.NoSuchObject, gosnmp.NoSuchInstance}
	f.Fuzz(func(t *testing.T, b []byte, v1 bool) {
		agent := &fakeAgent{errFor: map[string]error{}, v1: v1}
		for len(b) >= 4 {
			oid := oids[int(b[0])%len(oids)]
			if !strings.HasSuffix(oid, ".0") {
				// One index arc below 128, else two, the second from
				// the length byte's high nibble (BMC sensor tables).
				if ix := b[1]; ix < 0x80 {
					oid += "." + strconv.Itoa(int(ix))
				} else {
					oid += "." + strconv.Itoa(int(ix&0x7f)) + "." + strconv.Itoa(int(b[3]>>4))
				}
			}
			typ := types[int(b[2])%len(types)]
			n := min(int(b[3]&0x0f), len(b)-4)
			val := b[4 : 4+n]
			b = b[4+n:]
			agent.set(gosnmp.SnmpPDU{Name: "." + oid, Type: typ, Value: wireValue(typ, val)})
		}
		clk := &testClock{t: testNow}
		version := "2c"
		if v1 {
			version = "1"
		}
		p := newTestPollerOpts(t, agent, &Opts{Version: version, Profiles: names, Now: clk.now})
		defer p.Close()
		for range 2 {
			samples, _ := p.Poll(context.Background())
			for _, s := range samples {
				d, ok := sample.Lookup(s.Metric)
				if i := slices.IndexFunc(Metrics, func(d sample.Desc) bool { return d.Name == s.Metric }); !ok && i >= 0 {
					d, ok = Metrics[i], true
				}
				if !ok || s.Value.Kind() != d.Kind {
					t.Fatalf("sample %s = %v (%s): not in the catalogue, or not of its kind", s.Series(), s.Value, s.Value.Kind())
				}
				for _, l := range s.Labels {
					if !slices.Contains(d.Labels, l.Name) {
						t.Fatalf("sample %s: label %q is not one of %v", s.Series(), l.Name, d.Labels)
					}
				}
			}
			clk.advance(15 * time.Second)
		}
	})
}

// pollObjects lists the objects FuzzPoll's records choose from, the
// system group's then every built-in profile's, and the profiles' names.
func pollObjects(t testing.TB) (oids, names []string) {
	ps, err := LoadProfiles()
	if err != nil {
		t.Fatal(err)
	}
	oids = []string{"1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.3.0"} // sysDescr, sysObjectID, sysUpTime
	for _, p := range ps {
		names = append(names, p.Name)
		for _, s := range p.Scalars {
			oids = append(oids, s.OID)
		}
		for _, t := range p.Tables {
			for _, c := range t.Columns {
				oids = append(oids, c.OID)
			}
		}
	}
	return oids, names
}

// wireValue is b as gosnmp decodes a value of type typ: the Go type of
// each SNMP type is gosnmp's (helper.go, decodeValue), the integers big
// endian and as long as the agent made them.
func wireValue(typ gosnmp.Asn1BER, b []byte) any {
	var u uint64
	for _, c := range b[:min(len(b), 8)] {
		u = u<<8 | uint64(c)
	}
	i := int64(u)
	if n := min(len(b), 8); n > 0 && n < 8 && b[0]&0x80 != 0 {
		i -= 1 << (8 * n) // sign extension of a short two's complement
	}
	switch typ {
	case gosnmp.Integer:
		return int(i)
	case gosnmp.OctetString, gosnmp.Opaque:
		return b
	case gosnmp.Counter32, gosnmp.Gauge32:
		return uint(u)
	case gosnmp.TimeTicks, gosnmp.Uinteger32:
		return uint32(u)
	case gosnmp.Counter64:
		return u
	case gosnmp.IPAddress:
		if len(b) < 4 {
			return nil
		}
		return net.IP(b[:4]).String()
	case gosnmp.ObjectIdentifier:
		var oid strings.Builder
		for _, c := range b {
			oid.WriteString("." + strconv.Itoa(int(c)))
		}
		return oid.String()
	case gosnmp.OpaqueFloat:
		return math.Float32frombits(uint32(u))
	case gosnmp.OpaqueDouble:
		return math.Float64frombits(u)
	}
	return nil
}
