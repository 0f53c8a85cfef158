package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// sysconf(_SC_CLK_TCK), fixed at 100 on Linux whatever the kernel's HZ
// (proc(5)).
const clockTicks = 100

// memStatus is the memory part of /proc/<pid>/status, in bytes.
type memStatus struct {
	rss  int64 // VmRSS: resident now
	hwm  int64 // VmHWM: peak resident
	anon int64 // RssAnon: heap, stacks (what GOGC and GOMEMLIMIT act on)
	file int64 // RssFile: mapped binary pages (text and rodata)
}

func readMemStatus(pid int) (memStatus, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memStatus{}, fmt.Errorf("read process status: %w", err)
	}
	return parseMemStatus(b)
}

// parseMemStatus reads the "Key:   1234 kB" lines of /proc/<pid>/status;
// the kernel's kB are KiB.
func parseMemStatus(b []byte) (memStatus, error) {
	var m memStatus
	fields := map[string]*int64{"VmRSS": &m.rss, "VmHWM": &m.hwm, "RssAnon": &m.anon, "RssFile": &m.file}
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		dst, want := fields[key]
		if !ok || !want {
			continue
		}
		num, unit, _ := strings.Cut(strings.TrimSpace(rest), " ")
		kib, err := strconv.ParseInt(num, 10, 64)
		if err != nil || unit != "kB" {
			return memStatus{}, fmt.Errorf("process status: %s: %q is not a size in kB", key, rest)
		}
		*dst = kib * 1024
		found++
	}
	if found != len(fields) {
		return memStatus{}, fmt.Errorf("process status: %d of the fields VmRSS, VmHWM, RssAnon, RssFile found", found)
	}
	return m, nil
}

// cpuTicks returns the CPU time the process has used, user and system, in
// clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read process stat: %w", err)
	}
	return parseCPUTicks(string(b))
}

// parseCPUTicks adds utime and stime, fields 14 and 15 of /proc/<pid>/stat
// (proc(5)). The command name, field 2, is in parentheses and may itself
// hold spaces and parentheses, so fields are counted from the last ')'.
func parseCPUTicks(stat string) (int64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("process stat: no command name in %q", stat)
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0, fmt.Errorf("process stat: %d fields after the command name, want at least 13", len(f))
	}
	var sum int64
	for _, s := range f[11:13] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("process stat: utime/stime %q: %w", s, err)
		}
		sum += v
	}
	return sum, nil
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// countLines counts the lines of the file at path that contain substr.
func countLines(path, substr string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

func TestParseProcFiles(t *testing.T) {
	// The layout of /proc/<pid>/stat (Linux 6.1), with a command name that
	// holds a space and a parenthesis.
	const stat = "4242 (rack edge) x) S 1 4242 4242 0 -1 4194560 1920 0 0 0 137 42 0 0 20 0 9 0 812345 1265651712 3021 18446744073709551615 1 1 0 0 0 0 0 0 2143420159 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
	if got, err := parseCPUTicks(stat); err != nil || got != 137+42 {
		t.Errorf("parseCPUTicks = %d, %v; want 179 (utime 137 + stime 42)", got, err)
	}
	for _, bad := range []string{"4242 rack-edge S 1", "4242 (edge) S 1 2 3", "4242 (edge) S 1 4242 4242 0 -1 4194560 1920 0 0 0 x 42 0"} {
		if _, err := parseCPUTicks(bad); err == nil {
			t.Errorf("parseCPUTicks(%q) succeeded, want an error", bad)
		}
	}

	// Excerpt of /proc/<pid>/status (Linux 6.1).
	const status = "Name:\trackwatch-edge\nVmPeak:\t 1236000 kB\nVmHWM:\t   13120 kB\nVmRSS:\t   12084 kB\nRssAnon:\t    6980 kB\nRssFile:\t    5104 kB\nRssShmem:\t       0 kB\nThreads:\t9\n"
	m, err := parseMemStatus([]byte(status))
	want := memStatus{rss: 12084 << 10, hwm: 13120 << 10, anon: 6980 << 10, file: 5104 << 10}
	if err != nil || m != want {
		t.Errorf("parseMemStatus = %+v, %v; want %+v", m, err, want)
	}
	if _, err := parseMemStatus([]byte("VmRSS:\t 12084 kB\n")); err == nil {
		t.Error("parseMemStatus accepted a status without VmHWM, RssAnon and RssFile")
	}
	if _, err := parseMemStatus([]byte(strings.Replace(status, "12084 kB", "12084 pages", 1))); err == nil {
		t.Error("parseMemStatus accepted a size not in kB")
	}

	if self, err := readMemStatus(os.Getpid()); err == nil && (self.rss <= 0 || self.hwm < self.rss) {
		t.Errorf("own status: %+v; want a positive VmRSS no larger than VmHWM", self)
	}
}
