//go:build linux

package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/deploy/testrig"
)

// The footprint targets of a rack controller (a 32-bit ARM board with a
// few hundred MB of RAM shared with the OS): steady RSS measured natively,
// and the size of the stripped linux/arm binary. MB here is 10^6 bytes,
// the stricter reading of both targets.
const (
	targetRSSMB       = 15
	targetARMBinaryMB = 12
)

// The workload of one rack: 16 sensors read at 1 Hz, 48 SNMP targets
// (switches, PDUs, BMCs) polled every 10 s, and host mode.
const (
	footprintSNMPTargets = 48
	footprintSNMPPeriod  = 10 * time.Second
	// footprintWarmup lets the agent reach its steady state: at least
	// three SNMP cycles, so every poller has sized its buffers and the
	// garbage collector has settled on its heap goal.
	footprintWarmup = 30 * time.Second
	// footprintCycles is the measured window, in SNMP cycles.
	footprintCycles = 4
	// rssEvery is the VmRSS sampling interval within the window.
	rssEvery = 2 * time.Second
)

// footprintSensors are the 16 emulated chips, spread over two buses: the
// INA219/INA226 address range (0x40–0x4f) overlaps the TMP102's and the
// LM75's.
var footprintSensors = [][]string{
	{
		"{name: inlet1, chip: tmp102, address: 0x48, period: 1s}",
		"{name: inlet2, chip: tmp102, address: 0x49, period: 1s}",
		"{name: outlet1, chip: tmp102, address: 0x4a, period: 1s, extended: true}",
		"{name: outlet2, chip: tmp102, address: 0x4b, period: 1s, extended: true}",
		"{name: ambient1, chip: sht3x, address: 0x44, period: 1s}",
		"{name: ambient2, chip: sht4x, address: 0x45, period: 1s}",
		"{name: env1, chip: bme280, address: 0x76, period: 1s}",
		"{name: env2, chip: bme280, address: 0x77, period: 1s}",
		"{name: board1, chip: mcp9808, address: 0x18, period: 1s}",
		"{name: board2, chip: mcp9808, address: 0x19, period: 1s}",
		"{name: fans, chip: max31790, address: 0x20, period: 1s}",
		"{name: psu_in1, chip: lm75, address: 0x4c, period: 1s}",
		"{name: psu_in2, chip: lm75b, address: 0x4d, period: 1s}",
	},
	{
		"{name: feed_a, chip: ina226, address: 0x40, period: 1s, shunt_ohms: 0.002}",
		"{name: feed_b, chip: ina226, address: 0x41, period: 1s, shunt_ohms: 0.002}",
		"{name: fan_rail, chip: ina219, address: 0x42, period: 1s, shunt_ohms: 0.1}",
	},
}

// BenchmarkFootprint runs the real, stripped agent binary against a real
// Mosquitto and real snmpd on loopback, with the emulated sensors, and
// measures the process from outside, as an operator would: VmRSS from
// /proc/<pid>/status and CPU time (utime+stime) from /proc/<pid>/stat over
// whole SNMP cycles. A subscriber decodes what reaches the broker, so the
// numbers are those of an agent that is really doing its work.
//
// It runs once whatever b.N is, in about 80 s:
//
//	go test -run '^$' -bench Footprint -count 3 ./edge/cmd/rackwatch-edge/
//
// RACKWATCH_FOOTPRINT_ENV passes extra environment to the agent
// ("GOGC=50 GOMEMLIMIT=8MiB"), to try runtime settings.
func BenchmarkFootprint(b *testing.B) {
	goBin := lookGo(b)
	bins := buildEdgeBinaries(b, goBin)
	floor := measureFloor(b, goBin)
	broker := testrig.StartMosquitto(b, nil)
	snmpAddrs := startSnmpTargets(b, footprintSNMPTargets)

	kmsg := true
	if f, err := os.Open("/dev/kmsg"); err != nil {
		kmsg = false
		b.Logf("host mode without kmsg: /dev/kmsg is not readable (%v); run as root to include it", err)
	} else {
		f.Close()
	}
	dir := b.TempDir()
	cfgPath := filepath.Join(dir, "edge.yaml")
	if err := os.WriteFile(cfgPath, []byte(footprintConfig(dir, broker.URL, snmpAddrs, kmsg)), 0o600); err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command(bins.native, "check-config", cfgPath).CombinedOutput(); err != nil {
		b.Fatalf("check-config rejects the benchmark configuration: %v\n%s", err, out)
	}
	devices := footprintDevices()
	sub := subscribeSparkplug(b, broker.URL, "site1", "rack1")

	logPath := filepath.Join(dir, "edge.log")
	agent := startEdge(b, bins.native, cfgPath, logPath)
	started := time.Now()
	if missing := sub.waitBorn(devices, 20*time.Second); len(missing) > 0 {
		b.Fatalf("no DBIRTH within 20 s for %v; agent log:\n%s", missing, tail(logPath, 30))
	}
	time.Sleep(time.Until(started.Add(footprintWarmup)))
	if err := agent.alive(); err != nil {
		b.Fatalf("%v; agent log:\n%s", err, tail(logPath, 30))
	}

	window := footprintCycles * footprintSNMPPeriod
	b.ResetTimer()
	cpu0, err := cpuTicks(agent.pid)
	if err != nil {
		b.Fatal(err)
	}
	recv0 := sub.snapshot()
	begin := time.Now()
	var rss []memStatus
	for next := begin; time.Since(begin) < window; next = next.Add(rssEvery) {
		time.Sleep(time.Until(next))
		m, err := readMemStatus(agent.pid)
		if err != nil {
			b.Fatalf("%v; agent log:\n%s", err, tail(logPath, 30))
		}
		rss = append(rss, m)
	}
	time.Sleep(time.Until(begin.Add(window)))
	cpu1, err := cpuTicks(agent.pid)
	if err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(begin)
	recv1 := sub.snapshot()
	b.StopTimer()

	if silent := recv1.silentSince(recv0, devices); len(silent) > 0 {
		b.Fatalf("devices published no data during the window: %v; agent log:\n%s", silent, tail(logPath, 30))
	}
	if recv1.errors > 0 {
		b.Errorf("the subscriber could not decode %d message(s): %s", recv1.errors, recv1.lastError)
	}

	cpuSec := float64(cpu1-cpu0) / clockTicks
	cycles := elapsed.Seconds() / footprintSNMPPeriod.Seconds()
	samples := recv1.samples - recv0.samples
	rssMed, rssMax := medianMax(rss, func(m memStatus) int64 { return m.rss })
	anonMed, _ := medianMax(rss, func(m memStatus) int64 { return m.anon })
	fileMed, _ := medianMax(rss, func(m memStatus) int64 { return m.file })
	hwm := rss[len(rss)-1].hwm

	b.ReportMetric(0, "ns/op") // one measured run, not a per-op time
	b.ReportMetric(mb(rssMed), "rss-MB")
	b.ReportMetric(mb(rssMax), "rss-max-MB")
	b.ReportMetric(mb(anonMed), "rss-anon-MB")
	b.ReportMetric(mb(fileMed), "rss-file-MB")
	b.ReportMetric(mb(floor.rss), "floor-rss-MB")
	b.ReportMetric(cpuSec*1000/cycles, "cpu-ms/cycle")
	b.ReportMetric(100*cpuSec/elapsed.Seconds(), "cpu-%")
	b.ReportMetric(float64(samples)/elapsed.Seconds(), "samples/s")
	b.ReportMetric(mb(bins.sizes["native"]), "native-binary-MB")
	b.ReportMetric(mb(bins.sizes["arm"]), "arm-binary-MB")
	b.ReportMetric(mb(bins.sizes["arm64"]), "arm64-binary-MB")

	b.Logf("window %.1fs (%.2f SNMP cycles): CPU %.2fs; %d samples in %d messages (%d lost by sample sequence)",
		elapsed.Seconds(), cycles, cpuSec, samples, recv1.messages-recv0.messages, recv1.lost-recv0.lost)
	b.Logf("RSS over %d readings: median %.2f MB (anon %.2f, file %.2f), max %.2f MB; peak since start (VmHWM) %.2f MB",
		len(rss), mb(rssMed), mb(anonMed), mb(fileMed), mb(rssMax), mb(hwm))
	b.Logf("floor, the required libraries initialised and idle (testdata/floor): RSS %.2f MB (anon %.2f, file %.2f), binary %.2f MB",
		mb(floor.rss), mb(floor.anon), mb(floor.file), mb(floor.size))
	b.Logf("targets: steady RSS %.2f MB (≤ %d MB: %s); linux/arm binary %.2f MB (≤ %d MB: %s)",
		mb(rssMed), targetRSSMB, verdict(mb(rssMax) <= targetRSSMB),
		mb(bins.sizes["arm"]), targetARMBinaryMB, verdict(mb(bins.sizes["arm"]) <= targetARMBinaryMB))
	if os.Getenv("RACKWATCH_FOOTPRINT_ENV") != "" {
		// With GODEBUG=gctrace=1 these are the collector's last cycles.
		b.Logf("the agent's last log lines:\n%s", tail(logPath, 8))
	}
	if n := countLines(logPath, "level=ERROR"); n > 0 {
		b.Logf("the agent logged %d error(s); last lines:\n%s", n, tail(logPath, 10))
	}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func mb(bytes int64) float64 { return float64(bytes) / 1e6 }

// footprintConfig is the agent's configuration for the benchmark workload.
func footprintConfig(stateDir, brokerURL string, snmpAddrs []string, kmsg bool) string {
	var c strings.Builder
	fmt.Fprintf(&c, "version: 1\nedge: {group: site1, node: rack1, state_dir: %s}\n", stateDir)
	// No primary host: publish at once rather than wait for a collector.
	fmt.Fprintf(&c, "mqtt: {broker: %q, primary_host: \"\"}\n", brokerURL)
	c.WriteString("i2c:\n")
	for _, bus := range footprintSensors {
		c.WriteString("  - bus: emulated\n    sensors:\n")
		for _, s := range bus {
			fmt.Fprintf(&c, "      - %s\n", s)
		}
	}
	c.WriteString("snmp_security: {allow_community: true}\nsnmp:\n")
	for i, a := range snmpAddrs {
		fmt.Fprintf(&c, "  - {name: sw%02d, address: %q, community: public, profiles: [if-mib], period: %s}\n",
			i+1, a, footprintSNMPPeriod)
	}
	fmt.Fprintf(&c, "host: {enabled: true, root: /, kmsg: %t}\nlog: {level: info}\n", kmsg)
	return c.String()
}

// footprintDevices lists the Sparkplug devices the configuration publishes.
func footprintDevices() []string {
	var d []string
	for _, bus := range footprintSensors {
		for _, s := range bus {
			name, _, _ := strings.Cut(strings.TrimPrefix(s, "{name: "), ",")
			d = append(d, name)
		}
	}
	for i := range footprintSNMPTargets {
		d = append(d, fmt.Sprintf("sw%02d", i+1))
	}
	return append(d, "host")
}

// edgeProcess is the agent under measurement.
type edgeProcess struct {
	pid  int
	done chan struct{}
	err  error
}

func (p *edgeProcess) alive() error {
	select {
	case <-p.done:
		return fmt.Errorf("the agent exited: %v", p.err)
	default:
		return nil
	}
}

// startEdge runs `rackwatch-edge run` with its log in logPath, and stops it
// when the benchmark ends. The kernel kills it should the test binary die
// first.
func startEdge(b *testing.B, bin, cfgPath, logPath string) *edgeProcess {
	b.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "run", "-config", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), strings.Fields(os.Getenv("RACKWATCH_FOOTPRINT_ENV"))...)
	if extra := os.Getenv("RACKWATCH_FOOTPRINT_ENV"); extra != "" {
		b.Logf("agent environment: %s", extra)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start the agent: %v", err)
	}
	p := &edgeProcess{pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	b.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-p.done
			b.Errorf("the agent did not stop within 5 s of SIGTERM")
		}
	})
	return p
}

// edgeBinaries are the stripped agent builds.
type edgeBinaries struct {
	native string
	sizes  map[string]int64 // by "native", "arm", "arm64"
}

// buildEdgeBinaries builds the agent as `make build` and `make cross` do,
// with their build tags and stripped (-s -w): natively to run it, and for
// linux/arm (GOARM=7) and linux/arm64 to weigh them.
func buildEdgeBinaries(b *testing.B, goBin string) edgeBinaries {
	b.Helper()
	dir := b.TempDir()
	out := edgeBinaries{native: filepath.Join(dir, "rackwatch-edge"), sizes: map[string]int64{}}
	for _, t := range []struct {
		name string
		env  []string
	}{
		{"native", nil},
		{"arm", []string{"GOOS=linux", "GOARCH=arm", "GOARM=7"}},
		{"arm64", []string{"GOOS=linux", "GOARCH=arm64"}},
	} {
		path := out.native
		if t.name != "native" {
			path = filepath.Join(dir, t.name, "rackwatch-edge")
		}
		cmd := exec.Command(goBin, "build", "-trimpath", "-tags", "gosnmp_nodebug", "-ldflags", "-s -w", "-o", path, ".")
		cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0"), t.env...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("go build (%s): %v\n%s", t.name, err, msg)
		}
		fi, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		out.sizes[t.name] = fi.Size()
	}
	return out
}

// floorStatus is the idle footprint of testdata/floor.
type floorStatus struct {
	memStatus
	size int64
}

// measureFloor builds testdata/floor like the agent, starts it, and reads
// its RSS once it has settled.
func measureFloor(b *testing.B, goBin string) floorStatus {
	b.Helper()
	path := filepath.Join(b.TempDir(), "floor")
	cmd := exec.Command(goBin, "build", "-trimpath", "-tags", "gosnmp_nodebug", "-ldflags", "-s -w", "-o", path, "./testdata/floor")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build (floor): %v\n%s", err, msg)
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	run := exec.Command(path)
	out, err := run.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	run.Stderr = os.Stderr
	run.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := run.Start(); err != nil {
		b.Fatalf("start floor: %v", err)
	}
	defer func() {
		run.Process.Signal(syscall.SIGTERM)
		run.Wait()
	}()
	ready := make([]byte, len("ready\n"))
	if _, err := io.ReadFull(out, ready); err != nil || string(ready) != "ready\n" {
		b.Fatalf("floor did not start: %q, %v", ready, err)
	}
	time.Sleep(3 * time.Second)
	var ms []memStatus
	for range 3 {
		m, err := readMemStatus(run.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		ms = append(ms, m)
		time.Sleep(time.Second)
	}
	med := func(f func(memStatus) int64) int64 { v, _ := medianMax(ms, f); return v }
	return floorStatus{
		memStatus: memStatus{rss: med(func(m memStatus) int64 { return m.rss }), anon: med(func(m memStatus) int64 { return m.anon }), file: med(func(m memStatus) int64 { return m.file })},
		size:      fi.Size(),
	}
}

// lookGo finds the go command that builds the agent.
func lookGo(b *testing.B) string {
	b.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if p := filepath.Join(os.Getenv("GOROOT"), "bin", "go"); os.Getenv("GOROOT") != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	testrig.Missing(b, "the go command is not on PATH: the benchmark builds the agent binary")
	return ""
}

// medianMax returns the median and the maximum of f over ms.
func medianMax(ms []memStatus, f func(memStatus) int64) (median, max int64) {
	v := make([]int64, len(ms))
	for i, m := range ms {
		v[i] = f(m)
	}
	slices.Sort(v)
	if len(v) == 0 {
		return 0, 0
	}
	if len(v)%2 == 1 {
		median = v[len(v)/2]
	} else {
		median = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return median, v[len(v)-1]
}
