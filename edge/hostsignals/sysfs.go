package hostsignals

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rackwatch/rackwatch/edge/sample"
)

// ErrNoData means the host has no such attribute: missing hardware or a
// driver that does not export it. Callers log it at debug level.
var ErrNoData = errors.New("hostsignals: no data")

// Metric names the host reader adds to the catalogue's.
const (
	CPUFrequency      = "cpu_frequency_hertz"
	CPUThrottleActive = "cpu_throttle_inferred"
	IfCarrierChanges  = "if_carrier_changes_total"
)

// Reader reads a host's sysfs under Root.
type Reader struct {
	// Root is the filesystem root: "/" in production, a fixture in tests.
	Root string
	Now  func() time.Time
	// InferFrequencyRatio, InferMargin and InferLimit tune throttling
	// inference on CPUs without throttle counters (see the package doc).
	InferFrequencyRatio float64
	InferMargin         float64
	InferLimit          float64

	inferred bool   // the host is throttling by inference
	events   uint64 // inferred throttling episodes
}

func (r *Reader) path(p ...string) string {
	return filepath.Join(append([]string{r.Root}, p...)...)
}

// readAttr reads a sysfs attribute with a single read(2).
func readAttr(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%w: %s", ErrNoData, path)
		}
		return "", fmt.Errorf("hostsignals: %w", err)
	}
	defer f.Close()
	var b [128]byte
	n, err := f.Read(b[:])
	if err != nil {
		return "", fmt.Errorf("hostsignals: read %s: %w", path, err)
	}
	return strings.TrimSpace(string(b[:n])), nil
}

func readUint(path string) (uint64, error) {
	s, err := readAttr(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("hostsignals: %s: %w", path, err)
	}
	return v, nil
}

func readInt(path string) (int64, error) {
	s, err := readAttr(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("hostsignals: %s: %w", path, err)
	}
	return v, nil
}

// collect keeps the first real error of each attribute and ignores
// ErrNoData.
type collect struct{ errs []error }

func (c *collect) add(err error) bool {
	if err == nil {
		return true
	}
	if !errors.Is(err, ErrNoData) {
		c.errs = append(c.errs, err)
	}
	return false
}

// cpuDirs returns cpuN directories sorted by N.
func (r *Reader) cpuDirs() []string {
	dirs, _ := filepath.Glob(r.path("sys/devices/system/cpu/cpu[0-9]*"))
	sort.Slice(dirs, func(i, j int) bool { return cpuNum(dirs[i]) < cpuNum(dirs[j]) })
	return dirs
}

func cpuNum(dir string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(filepath.Base(dir), "cpu"))
	return n
}

// Read returns a snapshot of every host signal. Samples are valid even when
// the error is not nil: it joins the attributes that could not be read.
func (r *Reader) Read() ([]sample.Sample, error) {
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	var c collect
	var out []sample.Sample
	add := func(metric string, ls sample.Labels, v sample.Value) {
		d, _ := sample.Lookup(metric)
		unit := d.Unit
		switch metric {
		case CPUFrequency:
			unit = "hertz"
		case CPUThrottleActive:
			unit = "bool"
		case IfCarrierChanges:
			unit = "changes"
		}
		out = append(out, sample.Sample{Metric: metric, Labels: ls, Value: v, Unit: unit, TS: now})
	}
	counters := r.throttle(&c, add)
	temps := r.hwmon(&c, add)
	ratio := r.cpufreq(&c, add)
	r.net(&c, add)
	if !counters {
		r.infer(temps, ratio, add)
	}
	return out, errors.Join(c.errs...)
}

type addFunc func(metric string, ls sample.Labels, v sample.Value)

// throttle reads the Intel throttle counters, once per core and once per
// package: every CPU of a package repeats the package count, and both
// hyperthreads of a core repeat the core count. It reports whether the host
// has the counters at all.
func (r *Reader) throttle(c *collect, add addFunc) bool {
	seenCore := map[[2]string]bool{}
	seenPkg := map[string]bool{}
	found := false
	for _, dir := range r.cpuDirs() {
		pkg, err := readAttr(filepath.Join(dir, "topology/physical_package_id"))
		if !c.add(err) {
			continue
		}
		core, err := readAttr(filepath.Join(dir, "topology/core_id"))
		if !c.add(err) {
			continue
		}
		if !seenCore[[2]string{pkg, core}] {
			if v, err := readUint(filepath.Join(dir, "thermal_throttle/core_throttle_count")); c.add(err) {
				seenCore[[2]string{pkg, core}] = true
				found = true
				add(sample.CPUThrottleCount, sample.L("package", pkg, "core", core), sample.Uint(v))
			}
		}
		if !seenPkg[pkg] {
			if v, err := readUint(filepath.Join(dir, "thermal_throttle/package_throttle_count")); c.add(err) {
				seenPkg[pkg] = true
				found = true
				add(sample.CPUThrottleCount, sample.L("package", pkg, "core", "package"), sample.Uint(v))
			}
		}
	}
	return found
}

// cpuTemp is the hottest CPU sensor and its limit, for inference.
type cpuTemp struct {
	celsius, limit float64
	ok             bool
}

// hwmon reads every tempN_input of every hwmon device, with its label and
// critical limit (Documentation/hwmon/sysfs-interface: millidegrees).
func (r *Reader) hwmon(c *collect, add addFunc) cpuTemp {
	var hot cpuTemp
	devs, _ := filepath.Glob(r.path("sys/class/hwmon/hwmon*"))
	sort.Strings(devs)
	for _, dev := range devs {
		name, err := readAttr(filepath.Join(dev, "name"))
		if !c.add(err) {
			continue
		}
		inputs, _ := filepath.Glob(filepath.Join(dev, "temp*_input"))
		sort.Strings(inputs)
		for _, in := range inputs {
			prefix := strings.TrimSuffix(in, "_input")
			mc, err := readInt(in)
			if !c.add(err) {
				continue
			}
			label, err := readAttr(prefix + "_label")
			if err != nil {
				label = filepath.Base(prefix)
			}
			sensor := name + " " + label
			celsius := float64(mc) / 1000
			add(sample.TemperatureCelsius, sample.L("sensor", sensor), sample.Float(celsius))
			limit := 0.0
			if crit, err := readInt(prefix + "_crit"); err == nil {
				limit = float64(crit) / 1000
				add(sample.TemperatureCritical, sample.L("sensor", sensor), sample.Float(limit))
			}
			if name == "coretemp" || name == "k10temp" || name == "zenpower" {
				if !hot.ok || celsius > hot.celsius {
					hot = cpuTemp{celsius: celsius, limit: limit, ok: true}
				}
			}
		}
	}
	return hot
}

// cpufreq reads scaling_cur_freq (kHz) of every CPU and returns the lowest
// ratio of current to base frequency, or 0 when unknown. The base is
// base_frequency (intel_pstate), amd_pstate_nominal_freq (amd-pstate) or,
// failing both, cpuinfo_max_freq.
func (r *Reader) cpufreq(c *collect, add addFunc) float64 {
	lowest := 0.0
	for _, dir := range r.cpuDirs() {
		khz, err := readUint(filepath.Join(dir, "cpufreq/scaling_cur_freq"))
		if !c.add(err) {
			continue
		}
		cpu := strings.TrimPrefix(filepath.Base(dir), "cpu")
		add(CPUFrequency, sample.L("cpu", cpu), sample.Float(float64(khz)*1000))
		for _, attr := range []string{"base_frequency", "amd_pstate_nominal_freq", "cpuinfo_max_freq"} {
			if base, err := readUint(filepath.Join(dir, "cpufreq", attr)); err == nil && base > 0 {
				if ratio := float64(khz) / float64(base); lowest == 0 || ratio < lowest {
					lowest = ratio
				}
				break
			}
		}
	}
	return lowest
}

// infer applies the inference of the package doc and publishes its state
// and its episode count.
func (r *Reader) infer(t cpuTemp, ratio float64, add addFunc) {
	if !t.ok || ratio == 0 {
		return
	}
	limit := t.limit
	if limit == 0 {
		limit = orDefault(r.InferLimit, 95)
	}
	throttling := ratio < orDefault(r.InferFrequencyRatio, 0.9) && t.celsius >= limit-orDefault(r.InferMargin, 5)
	if throttling && !r.inferred {
		r.events++
	}
	r.inferred = throttling
	add(CPUThrottleActive, sample.L("package", "all"), sample.Bool(throttling))
	add(sample.CPUThrottleCount, sample.L("package", "all", "core", "inferred"), sample.Uint(r.events))
}

func orDefault(v, d float64) float64 {
	if v == 0 {
		return d
	}
	return v
}

// netStats maps /sys/class/net/IF/statistics attributes to the catalogue
// (Documentation/ABI/testing/sysfs-class-net-statistics).
var netStats = []struct{ attr, metric string }{
	{"rx_errors", sample.IfInErrors},
	{"tx_errors", sample.IfOutErrors},
	{"rx_dropped", sample.IfInDiscards},
	{"rx_crc_errors", sample.IfFCSErrors},
}

// net reads the error counters and carrier changes of every interface
// except loopback.
func (r *Reader) net(c *collect, add addFunc) {
	ifs, _ := filepath.Glob(r.path("sys/class/net/*"))
	sort.Strings(ifs)
	for _, dir := range ifs {
		name := filepath.Base(dir)
		if name == "lo" {
			continue
		}
		for _, s := range netStats {
			if v, err := readUint(filepath.Join(dir, "statistics", s.attr)); c.add(err) {
				add(s.metric, sample.L("ifname", name), sample.Uint(v))
			}
		}
		// carrier_changes fails with EINVAL on a device that is down.
		if v, err := readUint(filepath.Join(dir, "carrier_changes")); err == nil {
			add(IfCarrierChanges, sample.L("ifname", name), sample.Uint(v))
		}
	}
}
