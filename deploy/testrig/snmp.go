package testrig

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// sysDescr0 is SNMPv2-MIB::sysDescr.0 (RFC 3418), the readiness probe.
const sysDescr0 = "1.3.6.1.2.1.1.1.0"

// SNMPAgent is a running SNMP agent (snmpd or snmpsim) on UDP loopback.
type SNMPAgent struct {
	Addr      string // "127.0.0.1:port"
	Host      string // "127.0.0.1"
	Port      uint16
	Community string // v2c community; for snmpsim the only data file's name, or ""

	s *service
}

// Client returns a connected SNMPv2c client for the agent with community c
// (the agent's Community when c is ""), closed when the test ends.
func (a *SNMPAgent) Client(t testing.TB, c string) *gosnmp.GoSNMP {
	t.Helper()
	if c == "" {
		c = a.Community
	}
	g := snmpClient(a.Host, a.Port, c, 2*time.Second, 1)
	if err := g.Connect(); err != nil {
		t.Fatalf("testrig: snmp connect %s: %v", a.Addr, err)
	}
	t.Cleanup(func() { g.Conn.Close() })
	return g
}

// Stop stops the agent; requests then time out.
func (a *SNMPAgent) Stop() { a.s.stop() }

func snmpClient(host string, port uint16, community string, timeout time.Duration, retries int) *gosnmp.GoSNMP {
	return &gosnmp.GoSNMP{
		Target:    host,
		Port:      port,
		Community: community,
		Version:   gosnmp.Version2c,
		Timeout:   timeout,
		Retries:   retries,
		MaxOids:   gosnmp.MaxOids,
	}
}

// snmpReady reports whether the agent answers a GET of sysDescr.0; any
// answer counts, even noSuchObject.
func snmpReady(host string, port uint16, community string) func(context.Context) error {
	return func(context.Context) error {
		g := snmpClient(host, port, community, 300*time.Millisecond, 0)
		if err := g.Connect(); err != nil {
			return err
		}
		defer g.Conn.Close()
		_, err := g.Get([]string{sysDescr0})
		return err
	}
}

// SnmpdOpts configures StartSnmpd.
type SnmpdOpts struct {
	Community string // read-only v2c community for 127.0.0.1; default "public"
	// Config holds extra snmpd.conf lines (pass, extend, sysDescr, ...).
	// No MIBs are loaded, so OIDs must be numeric.
	Config string
}

// StartSnmpd starts net-snmp's snmpd on a private UDP loopback port, with
// only the given configuration (none of the host's) and its persistent
// state in its own directory.
func StartSnmpd(t testing.TB, opts SnmpdOpts) *SNMPAgent {
	t.Helper()
	bin := Require(t, "snmpd", "snmpd")
	if opts.Community == "" {
		opts.Community = "public"
	}
	s := newService(t, "snmpd", bin, 0o755)
	// Keep the agent away from /var/lib/snmp.
	s.env = []string{"SNMP_PERSISTENT_DIR=" + filepath.Join(s.dir, "persist")}
	a := &SNMPAgent{Host: "127.0.0.1", Community: opts.Community, s: s}
	conf := filepath.Join(s.dir, "snmpd.conf")
	writeFile(t, conf, fmt.Sprintf("rocommunity %s 127.0.0.1\n%s\n", opts.Community, opts.Config))
	s.launch(t, func() {
		a.Port = uint16(mustFreePort(t, "udp"))
		a.Addr = fmt.Sprintf("%s:%d", a.Host, a.Port)
		// -C: read no configuration but ours; -m "": load no MIBs, which
		// Debian ships only partially (each missing import is logged).
		s.args = []string{"-f", "-Lo", "-C", "-c", conf, "-m", "", "udp:" + a.Addr}
		s.ready = snmpReady(a.Host, a.Port, a.Community)
	})
	return a
}

// snmprecExts are the data file types snmpsim serves; the file name without
// extension is the community.
var snmprecExts = []string{".snmprec", ".snmpwalk", ".sapwalk", ".MVC", ".dump"}

// StartSnmpsim starts snmpsim serving the data files in dataDir (one
// community per file: "ios_2960x.snmprec" answers community "ios_2960x").
// When the tests run as root, snmpsim runs as nobody; if nobody cannot read
// dataDir, its files are copied to a directory it can read.
func StartSnmpsim(t testing.TB, dataDir string) *SNMPAgent {
	t.Helper()
	bin := Require(t, "snmpsimd", "snmpsim")
	communities := dataCommunities(t, dataDir)
	if len(communities) == 0 {
		t.Fatalf("testrig: snmpsim: no data files (%s) in %s", strings.Join(snmprecExts, ", "), dataDir)
	}
	s := newService(t, "snmpsim", bin, 0o755)
	// snmpsim is Python and indexes each data file before it answers: a
	// large recording takes a few seconds on a loaded machine.
	s.timeout = 30 * time.Second
	a := &SNMPAgent{Host: "127.0.0.1", s: s}
	if len(communities) == 1 {
		a.Community = communities[0]
	}
	cacheDir := filepath.Join(s.dir, "cache")
	if err := os.Mkdir(cacheDir, 0o755); err != nil {
		t.Fatalf("testrig: %v", err)
	}
	if os.Geteuid() == 0 {
		// snmpsim refuses to run as root. Rather than let it drop
		// privileges itself (--process-user), which would clear the
		// parent-death signal and leave it running if the test binary is
		// killed, start it as nobody.
		uid, gid := nobody(t)
		s.runAs = &ids{uid: uint32(uid), gid: uint32(gid)}
		if err := os.Chown(cacheDir, uid, gid); err != nil {
			t.Fatalf("testrig: %v", err)
		}
		if !othersCanRead(dataDir) {
			dataDir = copyReadable(t, dataDir)
		}
	}
	s.env = []string{"HOME=" + cacheDir, "PYTHONDONTWRITEBYTECODE=1"}
	s.launch(t, func() {
		a.Port = uint16(mustFreePort(t, "udp"))
		a.Addr = fmt.Sprintf("%s:%d", a.Host, a.Port)
		s.args = []string{
			"--data-dir=" + dataDir,
			"--cache-dir=" + cacheDir,
			"--agent-udpv4-endpoint=" + a.Addr,
		}
		s.ready = snmpReady(a.Host, a.Port, communities[0])
	})
	return a
}

// nobody returns the unprivileged ids snmpsim runs as when the tests run as
// root.
func nobody(t testing.TB) (uid, gid int) {
	t.Helper()
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("testrig: snmpsim runs as nobody when started by root: %v", err)
	}
	uid, err = strconv.Atoi(u.Uid)
	if err != nil {
		t.Fatalf("testrig: uid of nobody: %v", err)
	}
	// Debian names nobody's group "nogroup"; other systems "nobody".
	for _, name := range []string{"nogroup", "nobody"} {
		if g, err := user.LookupGroup(name); err == nil {
			if gid, err = strconv.Atoi(g.Gid); err == nil {
				return uid, gid
			}
		}
	}
	t.Fatalf("testrig: neither group nogroup nor nobody exists")
	return 0, 0
}

func dataCommunities(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("testrig: snmpsim data dir: %v", err)
	}
	var cs []string
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.Type().IsRegular() && slices.Contains(snmprecExts, ext) {
			cs = append(cs, strings.TrimSuffix(e.Name(), ext))
		}
	}
	return cs
}

// othersCanRead reports whether a user with no relation to dir's owner can
// list dir, read its files and traverse its parents.
func othersCanRead(dir string) bool {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	fi, err := os.Stat(abs)
	if err != nil || fi.Mode().Perm()&0o005 != 0o005 {
		return false
	}
	for p := filepath.Dir(abs); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if p == filepath.Dir(p) {
			break
		}
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		return false
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil || (fi.Mode().IsRegular() && fi.Mode().Perm()&0o004 == 0) {
			return false
		}
	}
	return true
}

// copyReadable copies the regular files of dir into a new directory that
// everyone can read.
func copyReadable(t testing.TB, dir string) string {
	t.Helper()
	dst := tempDir(t, "snmprec", 0o755)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("testrig: %v", err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatalf("testrig: %v", err)
		}
		writeFile(t, filepath.Join(dst, e.Name()), string(b))
	}
	return dst
}

// Recording returns the path of a copy of the recorded device
// shared/snmprec/<name>.snmprec, in a directory of its own that snmpsim can
// read: pass filepath.Dir of it to StartSnmpsim, and use name as the
// community. The copy is sorted by OID, as snmpsim requires (some
// recordings have rows out of order). Tests may edit the copy before
// starting snmpsim. The recordings live in ../shared/snmprec next to the
// module root; when they are absent the test is skipped (failed under CI).
func Recording(t testing.TB, name string) string {
	t.Helper()
	src := filepath.Join(sharedSnmprec(t), name+".snmprec")
	f, err := os.Open(src)
	if err != nil {
		if os.IsNotExist(err) {
			Missing(t, "recording %s not found: %v", name, err)
		}
		t.Fatalf("testrig: %v", err)
	}
	defer f.Close()
	lines, err := sortedSnmprec(f)
	if err != nil {
		t.Fatalf("testrig: %s: %v", src, err)
	}
	dst := filepath.Join(tempDir(t, "snmprec", 0o755), name+".snmprec")
	writeFile(t, dst, strings.Join(lines, "\n")+"\n")
	return dst
}

// sharedSnmprec locates ../shared/snmprec relative to the directory holding
// go.mod, walking up from the working directory.
func sharedSnmprec(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatalf("testrig: %v", err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			dir := filepath.Join(filepath.Dir(d), "shared", "snmprec")
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				Missing(t, "device recordings not found at %s (the shared/ folder beside the repository)", dir)
			}
			return dir
		}
		if d == filepath.Dir(d) {
			Missing(t, "no go.mod above %s, so no ../shared/snmprec to read recordings from", wd)
		}
	}
}

// sortedSnmprec reads "OID|tag|value" lines and returns them sorted by OID,
// comparing arcs numerically. Blank lines and comments are dropped.
func sortedSnmprec(r io.Reader) ([]string, error) {
	type rec struct {
		oid  []uint64
		line string
	}
	var recs []rec
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		oidText, _, ok := strings.Cut(line, "|")
		if !ok {
			return nil, fmt.Errorf("testrig: line %d: no '|' in %q", n, line)
		}
		oid, err := parseOID(oidText)
		if err != nil {
			return nil, fmt.Errorf("testrig: line %d: %w", n, err)
		}
		recs = append(recs, rec{oid, line})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("testrig: read snmprec: %w", err)
	}
	slices.SortStableFunc(recs, func(a, b rec) int { return slices.Compare(a.oid, b.oid) })
	lines := make([]string, len(recs))
	for i, r := range recs {
		lines[i] = r.line
	}
	return lines, nil
}

func parseOID(s string) ([]uint64, error) {
	parts := strings.Split(strings.TrimPrefix(s, "."), ".")
	oid := make([]uint64, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("testrig: bad OID %q: %w", s, err)
		}
		oid[i] = v
	}
	return oid, nil
}
