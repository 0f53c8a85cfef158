package snmppoll

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/rackwatch/rackwatch/edge/configfile"
	"gopkg.in/yaml.v3"
)

// A Profile describes what to read from one kind of device: the objects
// that identify it (Match), and the tables and scalars to read, with
// numeric OIDs and how each value becomes a catalogue metric. Profiles are
// YAML files, one profile per file; the built-in ones are in the profiles
// directory of this package and document the schema by example.
type Profile struct {
	// Version is the file format version, 1.
	Version int `yaml:"version"`
	// Name is what Opts.Profiles refers to, such as "if-mib".
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Match selects the profile when Opts.Profiles asks for "auto".
	Match Match `yaml:"match"`
	// Scalars are read with GET, together with sysUpTime.
	Scalars []Scalar `yaml:"scalars"`
	// Tables are walked in order.
	Tables []Table `yaml:"tables"`

	file *configfile.File // for errors naming file, line and key
}

// Match says which agents a profile applies to. A profile matches when any
// of its criteria holds; a profile without criteria matches only when named.
type Match struct {
	// SysObjectID lists OID prefixes of sysObjectID.0, matched at arc
	// boundaries: "1.3.6.1.4.1.9" matches 1.3.6.1.4.1.9.1.1208, not
	// 1.3.6.1.4.1.99.
	SysObjectID []string `yaml:"sys_object_id"`
	// SysDescr lists regular expressions (RE2) searched in sysDescr.0.
	SysDescr []string `yaml:"sys_descr"`
	// Exists lists OIDs, typically of a table entry, that match when the
	// agent has any object below them. All are probed in one GETNEXT.
	Exists []string `yaml:"exists"`
}

// Table is a set of columns that share one index. The columns may come from
// several MIB tables that extend one another: ifXTable AUGMENTS ifEntry
// (RFC 2863) and dot3StatsIndex is an ifIndex (RFC 3635), so ifName and
// dot3StatsFCSErrors belong to the same rows as ifInErrors.
type Table struct {
	// Name is the MIB table, used in errors ("walk ifTable: ...").
	Name string `yaml:"name"`
	// Columns are the objects the labels, metrics and conditions refer to.
	Columns []Column `yaml:"columns"`
	// Labels identify a row in its samples.
	Labels []Label `yaml:"labels"`
	// Filter drops the rows for which any condition fails.
	Filter []Condition `yaml:"filter"`
	// Metrics are the samples each row may yield.
	Metrics []Metric `yaml:"metrics"`
	// Discontinuity names a TimeTicks column, such as IF-MIB
	// ifCounterDiscontinuityTime, whose change marks a discontinuity of
	// every counter of the row.
	Discontinuity string `yaml:"discontinuity"`
	// DedupeLabel names the label that gets " #<index>" appended when a
	// row has the same labels as an earlier one (BMCs name two sensors
	// alike). Without it such rows are skipped and reported.
	DedupeLabel string `yaml:"dedupe_label"`
}

// Column is one columnar object of a MIB table.
type Column struct {
	// Name is the MIB object name, used in errors and by the other keys.
	Name string `yaml:"name"`
	// OID is the numeric OID of the column, without an index.
	OID string `yaml:"oid"`
	// Table is the MIB table holding the column when it differs from the
	// enclosing Table's, such as "ifXTable" for ifName.
	Table string `yaml:"table"`
	// Index makes the column a lookup into another table: its instance is
	// the given arcs of the row's index, "2" or "2-3" (1-based), or the
	// whole index with "all". Lookup columns are read with GET for the
	// rows that exist, rather than walked: entPhysicalName for the
	// sensors of entPhySensorTable, lldpLocPortId by lldpRemLocalPortNum.
	Index string `yaml:"index"`
	// Enum gives the text of integer values when the column is used in a
	// label.
	Enum map[int64]string `yaml:"enum"`
	// Hex renders an OCTET STRING that is not printable text (a MAC
	// address) as colon-separated hex in labels.
	Hex bool `yaml:"hex"`
	// TrimSuffix lists suffixes removed from the text in labels, such as
	// the ", GREEN" state that Catalyst switches append to their sensor
	// descriptions, which would otherwise rename the series when the
	// state changes.
	TrimSuffix []string `yaml:"trim_suffix"`
}

// Label gives each sample of a row one label.
type Label struct {
	// Name is the label name, such as "ifname".
	Name string `yaml:"name"`
	// From lists columns in order of preference: the first column with
	// non-empty printable text for the row wins; failing that, the first
	// with any value (binary rendered as hex for a Hex column). ifName is
	// preferred to ifDescr, which some agents fill with a long vendor
	// string; an LLDP port description to a port ID that is a MAC address.
	From Names `yaml:"from"`
	// Template builds the value when no From column has one: text with
	// {column}, {index} (the row's index) or {index.N} (its N-th arc),
	// such as "{cpqHeTemperatureLocale} {cpqHeTemperatureIndex}".
	Template string `yaml:"template"`
}

// Conversion says how a raw value becomes a sample value.
type Conversion struct {
	// Type is one of
	//   - counter: a Counter32 or Counter64 taken exactly (sample.Uint);
	//   - gauge: an INTEGER, Gauge32, Unsigned32 or TimeTicks (or, with
	//     Text, an OCTET STRING holding a decimal number), as sample.Float
	//     of raw × 10^Exp;
	//   - status: an INTEGER enumeration, true when the value is in True;
	//   - enum: an INTEGER enumeration mapped by Map to sample.Uint; values
	//     absent from Map yield no sample;
	//   - info: always 1, for a row whose labels are the information.
	Type string `yaml:"type"`
	// Exp is the decimal exponent of a gauge's raw value: -3 for
	// milli-degrees, -1 for tenths, 6 for Mbit/s to bit/s.
	Exp int `yaml:"exp"`
	// Signed32 reinterprets an unsigned 32-bit gauge as two's complement.
	// LM-SENSORS-MIB declares lmTempSensorsValue as Gauge32, so net-snmp
	// sends -5 °C as 4294962296.
	Signed32 bool `yaml:"signed32"`
	// Text accepts a gauge sent as an OCTET STRING such as "32.000"
	// (ATEN-IPMI-MIB sensorReading).
	Text bool `yaml:"text"`
	// Skip lists raw values that mean "no reading", such as -99 for an
	// unknown HPE temperature; they yield no sample and no error.
	Skip []float64 `yaml:"skip"`
	// True lists the status values meaning true: up(1) for ifOperStatus.
	True []int64 `yaml:"true"`
	// Map maps enum values to the sample value.
	Map map[int64]uint64 `yaml:"map"`
}

// Metric turns a column of each row into a catalogue metric.
type Metric struct {
	// Name is the catalogue metric name; the unit comes from the
	// catalogue (sample.Catalogue, then Metrics).
	Name string `yaml:"name"`
	// From lists columns in order of preference; the first the row has is
	// used: dot3HCStatsFCSErrors before dot3StatsFCSErrors.
	From       Names `yaml:"from"`
	Conversion `yaml:",inline"`
	// ScaleFrom and PrecisionFrom name the columns of an ENTITY-SENSOR-MIB
	// style reading (RFC 3433): the value is raw × 10^(3·(scale−9)) ×
	// 10^−precision.
	ScaleFrom     string `yaml:"scale_from"`
	PrecisionFrom string `yaml:"precision_from"`
	// When lists conditions on the row that must all hold for this metric.
	When []Condition `yaml:"when"`
	// Rate, for a counter, publishes its per-second rate as the gauge
	// RateName(Name); it defaults to true.
	Rate *bool `yaml:"rate"`
}

// Scalar turns one scalar object into a metric.
type Scalar struct {
	// Name is the catalogue metric name.
	Name string `yaml:"name"`
	// Object is the MIB object, used in errors; it defaults to the OID.
	Object string `yaml:"object"`
	// OID is the instance, ending in .0.
	OID        string `yaml:"oid"`
	Conversion `yaml:",inline"`
	// Labels are constant labels, such as {sensor: system}.
	Labels map[string]string `yaml:"labels"`
	Rate   *bool             `yaml:"rate"`
}

// Condition tests one column of a row. A row without the column fails,
// unless OrAbsent.
type Condition struct {
	Column string `yaml:"column"`
	// Any holds when one of its conditions holds; it takes no column.
	Any []Condition `yaml:"any"`
	// In and NotIn test an integer value.
	In    []int64 `yaml:"in"`
	NotIn []int64 `yaml:"not_in"`
	// Match is a regular expression (RE2) searched in the text value.
	Match string `yaml:"match"`
	// NonZero holds for a number (or decimal text) other than zero.
	NonZero bool `yaml:"nonzero"`
	// OrAbsent makes the condition hold for a row without the column too,
	// for optional status columns.
	OrAbsent bool `yaml:"or_absent"`
}

// Names is a list of column names; YAML may give one name as a string.
type Names []string

// UnmarshalYAML accepts "ifName" as well as [ifName, ifDescr].
func (n *Names) UnmarshalYAML(v *yaml.Node) error {
	if v.Kind == yaml.ScalarNode {
		*n = Names{v.Value}
		return nil
	}
	var s []string
	if err := v.Decode(&s); err != nil {
		return err
	}
	*n = s
	return nil
}

// profileVersions are the profile file formats this package reads.
var profileVersions = []int{1}

//go:embed profiles/*.yaml
var embedded embed.FS

// builtinSet holds the embedded profiles, parsed and compiled once.
var builtinSet = sync.OnceValues(func() (*profileSet, error) {
	ps, err := readProfiles(embedded, "profiles", "profiles", nil)
	if err != nil {
		return nil, err
	}
	return compileSet(ps)
})

// LoadProfiles returns the built-in profiles overridden and extended by the
// *.yaml and *.yml files of dirs, read in order: a file whose profile has
// the name of an earlier one replaces it. Each file is decoded strictly,
// and every problem is reported with the file, the line and the key, joined
// with errors.Join. The profiles share their slices with the package and
// must not be modified. Opts.ProfileDirs loads the same way.
func LoadProfiles(dirs ...string) ([]Profile, error) {
	set, err := loadSet(dirs)
	if err != nil {
		return nil, err
	}
	out := make([]Profile, len(set.profiles))
	for i, cp := range set.profiles {
		out[i] = *cp.src
	}
	return out, nil
}

func loadSet(dirs []string) (*profileSet, error) {
	base, err := builtinSet()
	if err != nil {
		return nil, err
	}
	if len(dirs) == 0 {
		return base, nil
	}
	// Every target of an edge names the same directories: compile them once
	// and share the read-only result, unless a file changed since.
	key := dirsKey(dirs)
	setCache.Lock()
	defer setCache.Unlock()
	if set, ok := setCache.sets[key]; ok {
		return set, nil
	}
	ps := make([]*Profile, len(base.profiles))
	for i, cp := range base.profiles {
		ps[i] = cp.src
	}
	for _, dir := range dirs {
		ps, err = readProfiles(os.DirFS(dir), ".", dir, ps)
		if err != nil {
			return nil, fmt.Errorf("snmppoll: profiles in %s: %w", dir, err)
		}
	}
	set, err := compileSet(ps)
	if err != nil {
		return nil, fmt.Errorf("snmppoll: profiles: %w", err)
	}
	if len(setCache.sets) >= 8 {
		clear(setCache.sets) // bounded: old generations of edited files
	}
	setCache.sets[key] = set
	return set, nil
}

// setCache holds compiled profile sets by dirsKey.
var setCache = struct {
	sync.Mutex
	sets map[string]*profileSet
}{sets: map[string]*profileSet{}}

// dirsKey identifies the profile directories and the state of their files,
// so an edited file is compiled again.
func dirsKey(dirs []string) string {
	var b strings.Builder
	for _, d := range dirs {
		b.WriteString(d)
		b.WriteByte(0)
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if info, err := e.Info(); err == nil {
				fmt.Fprintf(&b, "%s/%d/%d\x00", e.Name(), info.Size(), info.ModTime().UnixNano())
			}
		}
	}
	return b.String()
}

// readProfiles decodes the profile files of dir in fsys and merges them
// into base by name. Errors name the files as display/<file>.
func readProfiles(fsys fs.FS, dir, display string, base []*Profile) ([]*Profile, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(base)
	fromHere := map[string]string{}
	var errs []error
	for _, e := range entries {
		ext := path.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		data, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		name := filepath.Join(display, e.Name())
		p := new(Profile)
		f, err := configfile.Decode(name, data, profileVersions, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.file = f
		if p.Name == "" {
			errs = append(errs, f.Errorf("name", "required"))
			continue
		}
		if prev, dup := fromHere[p.Name]; dup {
			errs = append(errs, f.Errorf("name", "profile %q is also defined in %s", p.Name, prev))
			continue
		}
		fromHere[p.Name] = name
		if i := slices.IndexFunc(out, func(q *Profile) bool { return q.Name == p.Name }); i >= 0 {
			out[i] = p
		} else {
			out = append(out, p)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// AutoProfile is the profile name that selects profiles by their Match
// section; it is the default when Opts.Profiles is empty.
const AutoProfile = "auto"

// ProfileNames lists AutoProfile and the built-in profiles, sorted.
func ProfileNames() []string {
	names := []string{AutoProfile}
	set, err := builtinSet()
	if err != nil {
		return names
	}
	for _, cp := range set.profiles {
		names = append(names, cp.name)
	}
	sort.Strings(names)
	return names
}
