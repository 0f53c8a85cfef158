package mibs

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/constant"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rackwatch/rackwatch/deploy/testrig"
)

// enterprisesOID is SNMPv2-SMI's enterprises arc (RFC 2578, section 2), the
// only external parent RACKWATCH-MIB hangs its tree from.
const enterprisesOID = "1.3.6.1.4.1"

// acceptedWarnings lists the smilint warnings (by error tag, see smilint -e)
// that the MIB is allowed to keep. It must match the list in README.md.
var acceptedWarnings = []string{}

// mib is what the tests need from a MIB module: the OID of each descriptor,
// the macro that defined it, and the labels of enumerated INTEGER syntaxes.
type mib struct {
	oids  map[string]string
	kinds map[string]string
	enums map[string]map[string]int64
}

// stripMIB blanks out ASN.1 comments (from "--" to the next "--" or the end
// of the line) and the contents of quoted strings, so that words inside
// DESCRIPTION clauses and comments cannot be taken for definitions. Line
// breaks are kept.
func stripMIB(src []byte) string {
	var b strings.Builder
	inString, inComment := false, false
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\n':
			inComment = false
			b.WriteByte(c)
		case inString:
			if c == '"' {
				inString = false
				b.WriteByte(c)
			}
		case inComment:
			if c == '-' && i+1 < len(src) && src[i+1] == '-' {
				inComment = false
				i++
			}
		case c == '"':
			inString = true
			b.WriteByte(c)
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			inComment = true
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

var (
	// An assignment of a value to a descriptor, ending at its "::= { parent n }".
	assignRE = regexp.MustCompile(`(?s)\b([a-z][A-Za-z0-9-]*)\s+(OBJECT-TYPE|NOTIFICATION-TYPE|OBJECT\s+IDENTIFIER|MODULE-IDENTITY|OBJECT-IDENTITY|MODULE-COMPLIANCE|OBJECT-GROUP|NOTIFICATION-GROUP)\b(.*?)::=\s*\{\s*([a-z][A-Za-z0-9-]*)\s+([0-9]+)\s*\}`)
	enumRE   = regexp.MustCompile(`(?s)SYNTAX\s+INTEGER\s*\{([^}]*)\}`)
	labelRE  = regexp.MustCompile(`^([a-z][A-Za-z0-9-]*)\s*\(\s*(-?[0-9]+)\s*\)$`)
)

// parseMIB resolves every descriptor of a module to its numeric OID, from
// the parents it names down from enterprises.
func parseMIB(src []byte) (*mib, error) {
	m := &mib{oids: map[string]string{}, kinds: map[string]string{}, enums: map[string]map[string]int64{}}
	type edge struct{ parent, arc string }
	edges := map[string]edge{}
	for _, g := range assignRE.FindAllStringSubmatch(stripMIB(src), -1) {
		name, kind, body, parent, arc := g[1], strings.Join(strings.Fields(g[2]), " "), g[3], g[4], g[5]
		if _, dup := edges[name]; dup {
			return nil, fmt.Errorf("%s defined twice", name)
		}
		edges[name] = edge{parent, arc}
		m.kinds[name] = kind
		if e := enumRE.FindStringSubmatch(body); e != nil {
			labels := map[string]int64{}
			for _, item := range strings.Split(e[1], ",") {
				l := labelRE.FindStringSubmatch(strings.TrimSpace(item))
				if l == nil {
					return nil, fmt.Errorf("%s: bad enumeration item %q", name, item)
				}
				v, err := strconv.ParseInt(l[2], 10, 64)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
				labels[l[1]] = v
			}
			m.enums[name] = labels
		}
	}
	var resolve func(name string, depth int) (string, error)
	resolve = func(name string, depth int) (string, error) {
		if name == "enterprises" {
			return enterprisesOID, nil
		}
		if oid, ok := m.oids[name]; ok {
			return oid, nil
		}
		e, ok := edges[name]
		if !ok {
			return "", fmt.Errorf("unknown parent %s", name)
		}
		if depth > len(edges) {
			return "", fmt.Errorf("%s: parent loop", name)
		}
		p, err := resolve(e.parent, depth+1)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		m.oids[name] = p + "." + e.arc
		return m.oids[name], nil
	}
	for name := range edges {
		if _, err := resolve(name, 0); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func TestParseMIB(t *testing.T) {
	src := []byte(`T-MIB DEFINITIONS ::= BEGIN
IMPORTS MODULE-IDENTITY, OBJECT-TYPE FROM SNMPv2-SMI;
-- fake OBJECT-TYPE ::= { enterprises 9 } inside a comment
tMIB MODULE-IDENTITY
    LAST-UPDATED "202611260000Z"
    DESCRIPTION "quoted fake OBJECT-TYPE ::= { enterprises 8 } --"
    ::= { enterprises 32473 }
tObjects OBJECT IDENTIFIER ::= { tMIB 1 }
tState OBJECT-TYPE
    SYNTAX INTEGER { up(1), -- a comment -- down(2) }
    MAX-ACCESS accessible-for-notify
    ::= { tObjects 3 }
END
`)
	m, err := parseMIB(src)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"tMIB":     "1.3.6.1.4.1.32473",
		"tObjects": "1.3.6.1.4.1.32473.1",
		"tState":   "1.3.6.1.4.1.32473.1.3",
	}
	if fmt.Sprint(m.oids) != fmt.Sprint(want) {
		t.Errorf("oids = %v, want %v", m.oids, want)
	}
	if got := fmt.Sprint(m.enums); got != "map[tState:map[down:2 up:1]]" {
		t.Errorf("enums = %s", got)
	}
	if m.kinds["tState"] != "OBJECT-TYPE" || m.kinds["tObjects"] != "OBJECT IDENTIFIER" {
		t.Errorf("kinds = %v", m.kinds)
	}

	for _, bad := range []string{
		"a OBJECT IDENTIFIER ::= { nowhere 1 }",
		"a OBJECT IDENTIFIER ::= { b 1 }\nb OBJECT IDENTIFIER ::= { a 1 }",
		"a OBJECT IDENTIFIER ::= { enterprises 1 }\na OBJECT IDENTIFIER ::= { enterprises 2 }",
		"a OBJECT-TYPE SYNTAX INTEGER { up(1), down } ::= { enterprises 1 }",
	} {
		if _, err := parseMIB([]byte(bad)); err == nil {
			t.Errorf("parseMIB(%q) succeeded, want an error", bad)
		}
	}
}

// goConst is a constant declared in oids.go, with its line comment.
type goConst struct {
	name, typ, comment string
	val                constant.Value
}

// oidsGoConsts type-checks oids.go on its own and returns its constants.
func oidsGoConsts(t *testing.T) []goConst {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "oids.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	info := &types.Info{Defs: map[*ast.Ident]types.Object{}}
	conf := types.Config{Importer: importer.Default()}
	if _, err := conf.Check("mibs", fset, []*ast.File{f}, info); err != nil {
		t.Fatal(err)
	}
	var out []goConst
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, s := range gd.Specs {
			vs := s.(*ast.ValueSpec)
			comment := ""
			if vs.Comment != nil {
				comment = strings.TrimSpace(vs.Comment.Text())
			}
			for _, n := range vs.Names {
				c := info.Defs[n].(*types.Const)
				out = append(out, goConst{n.Name, c.Type().String(), comment, c.Val()})
			}
		}
	}
	return out
}

// TestConstantsMatchMIB checks every OID and enumeration constant in oids.go
// against RACKWATCH-MIB, and that every object and notification in the MIB
// has a constant.
func TestConstantsMatchMIB(t *testing.T) {
	m, err := parseMIB(RackwatchMIB)
	if err != nil {
		t.Fatalf("parse RACKWATCH-MIB: %v", err)
	}
	if m.kinds["rackwatchMIB"] != "MODULE-IDENTITY" || m.oids["rackwatchMIB"] != EnterpriseOID {
		t.Errorf("rackwatchMIB is %s %s, want MODULE-IDENTITY %s", m.kinds["rackwatchMIB"], m.oids["rackwatchMIB"], EnterpriseOID)
	}

	haveOID := map[string]bool{}
	haveEnum := map[string]bool{}
	for _, c := range oidsGoConsts(t) {
		if !strings.HasSuffix(c.name, "OID") && c.typ != "mibs.AlertState" && c.typ != "mibs.Severity" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			switch {
			case strings.HasSuffix(c.name, "OID"):
				desc := c.comment
				want, ok := m.oids[desc]
				if !ok {
					t.Fatalf("line comment %q does not name a descriptor of RACKWATCH-MIB", desc)
				}
				if got := constant.StringVal(c.val); got != want {
					t.Errorf("%s = %s, but %s is %s in the MIB", c.name, got, desc, want)
				}
				haveOID[desc] = true
			case c.typ == "mibs.AlertState" || c.typ == "mibs.Severity":
				f := strings.Fields(c.comment)
				if len(f) != 2 {
					t.Fatalf("line comment %q: want \"<object> <label>\"", c.comment)
				}
				labels, ok := m.enums[f[0]]
				if !ok {
					t.Fatalf("%s is not an enumerated object of RACKWATCH-MIB", f[0])
				}
				want, ok := labels[f[1]]
				if !ok {
					t.Fatalf("%s has no label %s", f[0], f[1])
				}
				got, _ := constant.Int64Val(c.val)
				if got != want {
					t.Errorf("%s = %d, but %s %s(%d) in the MIB", c.name, got, f[0], f[1], want)
				}
				var str string
				if c.typ == "mibs.AlertState" {
					str = AlertState(got).String()
				} else {
					str = Severity(got).String()
				}
				if str != f[1] {
					t.Errorf("%s.String() = %q, want %q", c.name, str, f[1])
				}
				haveEnum[f[0]+" "+f[1]] = true
			}
		})
	}

	for name, kind := range m.kinds {
		if (kind == "OBJECT-TYPE" || kind == "NOTIFICATION-TYPE") && !haveOID[name] {
			t.Errorf("%s %s has no OID constant in oids.go", kind, name)
		}
	}
	for obj, labels := range m.enums {
		for l := range labels {
			if !haveEnum[obj+" "+l] {
				t.Errorf("%s label %s has no constant in oids.go", obj, l)
			}
		}
	}
}

// objectsRE is the OBJECTS clause of a NOTIFICATION-TYPE.
var objectsRE = regexp.MustCompile(`(?s)\b([a-z][A-Za-z0-9-]*)\s+NOTIFICATION-TYPE\s+OBJECTS\s*\{([^}]*)\}`)

// TestNotificationObjectsMatchMIB checks NotificationObjects, the varbinds a
// sender puts in each notification, against the OBJECTS clauses.
func TestNotificationObjectsMatchMIB(t *testing.T) {
	m, err := parseMIB(RackwatchMIB)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, g := range objectsRE.FindAllStringSubmatch(stripMIB(RackwatchMIB), -1) {
		name := g[1]
		var want []string
		for _, obj := range strings.Split(g[2], ",") {
			want = append(want, m.oids[strings.TrimSpace(obj)])
		}
		oid := m.oids[name]
		seen[oid] = true
		if got, ok := NotificationObjects[oid]; !ok {
			t.Errorf("NotificationObjects has no entry for %s (%s)", name, oid)
		} else if !slices.Equal(got, want) {
			t.Errorf("NotificationObjects[%s] = %v, the MIB's OBJECTS clause is %v", name, got, want)
		}
	}
	for oid := range NotificationObjects {
		if !seen[oid] {
			t.Errorf("NotificationObjects has %s, which is no notification with OBJECTS in the MIB", oid)
		}
	}
	if len(seen) == 0 {
		t.Error("no NOTIFICATION-TYPE with an OBJECTS clause found in the MIB")
	}
}

func TestEmbeddedMIBIsTheFile(t *testing.T) {
	b, err := os.ReadFile("RACKWATCH-MIB.txt")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, RackwatchMIB) {
		t.Error("RackwatchMIB differs from RACKWATCH-MIB.txt")
	}
	if !bytes.HasPrefix(RackwatchMIB, []byte("RACKWATCH-MIB DEFINITIONS ::= BEGIN")) {
		t.Error("RACKWATCH-MIB.txt does not start with its module header")
	}
}

// smilintLine is one diagnostic of smilint -s -m: "file:line: [level] {tag} text".
var smilintLine = regexp.MustCompile(`^(.*):([0-9]+): \[([0-9])\] \{([a-z0-9-]+)\} (.*)$`)

type diag struct {
	line, level int
	tag, text   string
}

// smilint lints path at level 6 and returns its diagnostics. The IETF base
// modules are looked up on libsmi's configured path first; testdata/smi
// holds minimal stand-ins for machines that have none (Debian does not
// package them), appended so that real copies win where they exist.
func smilint(t *testing.T, path string) []diag {
	t.Helper()
	bin := testrig.Smilint(t)
	stubs, err := filepath.Abs(filepath.Join("testdata", "smi"))
	if err != nil {
		t.Fatal(err)
	}
	smipath := ":" + stubs
	if p := os.Getenv("SMIPATH"); p != "" {
		smipath = strings.TrimSuffix(p, ":") + ":" + stubs
	}
	cmd := exec.Command(bin, "-l", "6", "-s", "-m", path)
	cmd.Env = append(os.Environ(), "SMIPATH="+smipath)
	out, err := cmd.CombinedOutput()
	// smilint exits 0 even when it reports errors: its output is the verdict.
	if err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, out)
	}
	var ds []diag
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		g := smilintLine.FindStringSubmatch(line)
		if g == nil {
			t.Errorf("unexpected smilint output: %s", line)
			continue
		}
		n, _ := strconv.Atoi(g[2])
		lvl, _ := strconv.Atoi(g[3])
		ds = append(ds, diag{n, lvl, g[4], g[5]})
	}
	return ds
}

func TestSmilint(t *testing.T) {
	for _, d := range smilint(t, "RACKWATCH-MIB.txt") {
		switch {
		// Levels 1-3 violate the SMI; 4-6 are warnings (smilint(1)).
		case d.level <= 3:
			t.Errorf("RACKWATCH-MIB.txt:%d: error [%d] {%s} %s", d.line, d.level, d.tag, d.text)
		case !slices.Contains(acceptedWarnings, d.tag):
			t.Errorf("RACKWATCH-MIB.txt:%d: warning [%d] {%s} %s (not accepted in mibs/README.md)", d.line, d.level, d.tag, d.text)
		}
	}
}

// TestSmilintCatchesErrors lints a broken copy of the MIB, so that a lint
// run that silently checks nothing (smilint missing its base modules, or its
// output format changing) cannot pass for a clean MIB.
func TestSmilintCatchesErrors(t *testing.T) {
	broken := bytes.Replace(RackwatchMIB, []byte(" Unsigned32, Gauge32,"), []byte(" Gauge32,"), 1)
	if bytes.Equal(broken, RackwatchMIB) {
		t.Fatal("the import of Unsigned32 was not found in RACKWATCH-MIB.txt")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "RACKWATCH-MIB.txt")
	if err := os.WriteFile(path, broken, 0o644); err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, d := range smilint(t, path) {
		tags = append(tags, d.tag)
		if d.tag == "module-not-found" {
			t.Errorf("smilint cannot find a base module: %s", d.text)
		}
	}
	if !slices.Contains(tags, "basetype-not-imported") {
		t.Errorf("smilint reported %v for a MIB that uses Unsigned32 without importing it, want basetype-not-imported", tags)
	}
}

// TestAcceptedWarningsDocumented keeps acceptedWarnings and the list in
// README.md's "Accepted smilint warnings" section the same.
func TestAcceptedWarningsDocumented(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Accepted smilint warnings\n")
	if !ok {
		t.Fatal(`README.md has no "## Accepted smilint warnings" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	item := regexp.MustCompile("(?m)^- `([a-z0-9-]+)`")
	documented := []string{}
	for _, g := range item.FindAllStringSubmatch(section, -1) {
		documented = append(documented, g[1])
	}
	want := slices.Clone(acceptedWarnings)
	slices.Sort(documented)
	slices.Sort(want)
	if !slices.Equal(documented, want) {
		t.Errorf("README.md accepts %v, the test accepts %v", documented, want)
	}
	if len(want) == 0 && !strings.Contains(section, "None") {
		t.Error(`README.md should say "None" when no warning is accepted`)
	}
}
