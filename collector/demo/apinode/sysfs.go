package apinode

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// Sysfs writes a model's state as the part of a Linux sysfs tree that
// edge/hostsignals reads, under a root the node owns, so that a host-mode
// edge pointed at the root sees the node throttle:
//
//	sys/devices/system/cpu/cpuN/topology/{physical_package_id,core_id}
//	sys/devices/system/cpu/cpuN/thermal_throttle/{core,package}_throttle_count
//	sys/devices/system/cpu/cpuN/thermal_throttle/{core,package}_throttle_total_time_ms
//	sys/devices/system/cpu/cpuN/cpufreq/{scaling_cur_freq,base_frequency,cpuinfo_max_freq} (kHz)
//	sys/class/hwmon/hwmon0/{name,tempK_input,tempK_label,tempK_crit} (coretemp, m°C)
//
// as Intel's therm_throt and coretemp drivers lay them out: one package,
// one core per CPU. Each file is replaced atomically (written beside it,
// then renamed), so a reader never sees a partial value.
type Sysfs struct {
	root string
	cpus int
	mu   sync.Mutex // one writer at a time: they share temporary names
}

// NewSysfs creates the tree's static files under root for cpus CPUs.
func NewSysfs(root string, cpus int) (*Sysfs, error) {
	if root == "" || cpus <= 0 {
		return nil, fmt.Errorf("apinode: sysfs: root %q, %d CPUs", root, cpus)
	}
	s := &Sysfs{root: root, cpus: cpus}
	files := map[string]string{s.hwmon("name"): "coretemp", s.hwmon("temp1_label"): "Package id 0"}
	for i := range cpus {
		files[s.cpu(i, "topology/physical_package_id")] = "0"
		files[s.cpu(i, "topology/core_id")] = strconv.Itoa(i)
		files[s.hwmon(fmt.Sprintf("temp%d_label", i+2))] = fmt.Sprintf("Core %d", i)
	}
	for p, v := range files {
		if err := writeAtomic(p, v); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Root returns the directory to give a host-mode edge (hostsignals.Reader
// Root).
func (s *Sysfs) Root() string { return s.root }

func (s *Sysfs) cpu(i int, name string) string {
	return filepath.Join(s.root, "sys/devices/system/cpu", fmt.Sprintf("cpu%d", i), name)
}

func (s *Sysfs) hwmon(name string) string {
	return filepath.Join(s.root, "sys/class/hwmon/hwmon0", name)
}

// Write writes the state's temperatures, frequencies and throttle counts.
func (s *Sysfs) Write(st State, p Params) error {
	milli := func(c float64) string { return strconv.FormatInt(int64(c*1000), 10) }
	cpu := st.CPU.Celsius()
	crit := st.Critical.Celsius()
	khz := func(f float64) string { return strconv.FormatInt(int64(f/1000), 10) }
	files := [][2]string{
		{s.hwmon("temp1_input"), milli(cpu)},
		{s.hwmon("temp1_crit"), milli(crit)},
	}
	for i := range s.cpus {
		files = append(files,
			[2]string{s.hwmon(fmt.Sprintf("temp%d_input", i+2)), milli(cpu)},
			[2]string{s.hwmon(fmt.Sprintf("temp%d_crit", i+2)), milli(crit)},
			[2]string{s.cpu(i, "thermal_throttle/core_throttle_count"), strconv.FormatUint(st.Throttles, 10)},
			[2]string{s.cpu(i, "thermal_throttle/package_throttle_count"), strconv.FormatUint(st.Throttles, 10)},
			[2]string{s.cpu(i, "thermal_throttle/core_throttle_total_time_ms"), strconv.FormatUint(st.ThrottledMs, 10)},
			[2]string{s.cpu(i, "thermal_throttle/package_throttle_total_time_ms"), strconv.FormatUint(st.ThrottledMs, 10)},
			[2]string{s.cpu(i, "cpufreq/scaling_cur_freq"), khz(float64(st.Frequency) / 1e6)},
			[2]string{s.cpu(i, "cpufreq/base_frequency"), khz(float64(p.BaseFrequency) / 1e6)},
			[2]string{s.cpu(i, "cpufreq/cpuinfo_max_freq"), khz(float64(p.MaxFrequency) / 1e6)},
		)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range files {
		if err := writeAtomic(f[0], f[1]); err != nil {
			return err
		}
	}
	return nil
}

// writeAtomic replaces path with value and a newline, as sysfs attributes
// read. The temporary name starts with a dot so that no reader's glob
// (cpu[0-9]*, hwmon*, temp*_input) matches it.
func writeAtomic(path, value string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("apinode: sysfs: %w", err)
	}
	tmp := filepath.Join(dir, "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(value+"\n"), 0o644); err != nil {
		return fmt.Errorf("apinode: sysfs: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("apinode: sysfs: %w", err)
	}
	return nil
}
