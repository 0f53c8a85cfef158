//go:build linux

package snmppoll

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/deploy/testrig"
)

// The peer of BenchmarkVsSnmpExporter: Debian's prometheus-snmp-exporter
// 0.21 with the if_mib module of that release's generated snmp.yml, which
// lives beside the repository (shared/bench) for licensing reasons.
const (
	exporterBin     = "prometheus-snmp-exporter"
	exporterPackage = "prometheus-snmp-exporter"
	exporterConfig  = "snmp_exporter-0.21-if_mib.yml"
	exporterModule  = "if_mib"
)

// exporterConfigPath returns shared/bench/<exporterConfig> beside the
// directory holding go.mod.
func exporterConfigPath(b testing.TB) string {
	b.Helper()
	wd, err := os.Getwd()
	if err != nil {
		b.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			p := filepath.Join(filepath.Dir(d), "shared", "bench", exporterConfig)
			if _, err := os.Stat(p); err != nil {
				testrig.Missing(b, "snmp_exporter module file not found: %v (the shared/ folder beside the repository)", err)
			}
			return p
		}
		if d == filepath.Dir(d) {
			testrig.Missing(b, "no go.mod above %s, so no ../shared/bench/%s", wd, exporterConfig)
		}
	}
}

// exporterProc is a running snmp_exporter on a loopback port.
type exporterProc struct {
	url     string // "http://127.0.0.1:port"
	pid     int
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed once the process has been waited for
}

// exporterPath finds the exporter's binary and returns it with its
// version line.
func exporterPath(b testing.TB) (bin, version string) {
	b.Helper()
	bin, err := exec.LookPath(exporterBin)
	if err != nil {
		testrig.Missing(b, "%s not found on PATH: install the Debian package %s (deploy/testrig/provision.sh does)", exporterBin, exporterPackage)
	}
	out, _ := exec.Command(bin, "--version").CombinedOutput()
	version = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	// The module file's format (no auths section) is 0.21's; later
	// releases read it differently.
	if !strings.Contains(version, "version 0.21.") {
		b.Logf("expected snmp_exporter 0.21, found %q", version)
	}
	return bin, version
}

// startExporter starts the exporter bin with the module file cfg and waits
// until it serves HTTP. It is stopped when the benchmark ends.
func startExporter(b testing.TB, bin, cfg string) *exporterProc {
	b.Helper()
	e := &exporterProc{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	e.url = "http://" + addr
	e.logPath = filepath.Join(b.TempDir(), "snmp_exporter.log")
	logf, err := os.Create(e.logPath)
	if err != nil {
		b.Fatal(err)
	}
	defer logf.Close()
	e.cmd = exec.Command(bin, "--config.file="+cfg, "--web.listen-address="+addr)
	e.cmd.Stdout, e.cmd.Stderr = logf, logf
	// Killed with the benchmark binary if that dies without cleanups.
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := e.cmd.Start(); err != nil {
		b.Fatalf("start %s: %v", bin, err)
	}
	e.pid = e.cmd.Process.Pid
	e.done = make(chan struct{})
	go func() {
		_ = e.cmd.Wait()
		close(e.done)
	}()
	b.Cleanup(e.stop)
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-e.done:
			b.Fatalf("%s exited at start-up; it logged:\n%s", exporterBin, e.log())
		default:
		}
		if err := e.ping(); err == nil {
			return e
		} else if time.Now().After(deadline) {
			b.Fatalf("%s not ready after 15s: %v; it logged:\n%s", exporterBin, err, e.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *exporterProc) ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"/", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /: %s", resp.Status)
	}
	return nil
}

func (e *exporterProc) log() string {
	b, _ := os.ReadFile(e.logPath)
	return string(b)
}

func (e *exporterProc) stop() {
	select {
	case <-e.done:
		return
	default:
	}
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(3 * time.Second):
		_ = e.cmd.Process.Kill()
		<-e.done
	}
}

// userHZ is the unit of the CPU times in /proc/<pid>/stat: USER_HZ, which
// the kernel fixes at 100 for user space on every architecture Linux
// supports (proc(5), times(2)).
const userHZ = 100

// procCPU returns the user and system CPU time pid has used, including
// that of its exited threads (fields 14 and 15 of /proc/<pid>/stat,
// proc(5)).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("no ')' in /proc/<pid>/stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command in /proc/%d/stat", len(f), pid)
	}
	// f[0] is field 3 (state), so utime and stime are f[11] and f[12].
	var ticks uint64
	for _, s := range f[11:13] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// selfCPU returns the user and system CPU time of this process
// (getrusage(2) RUSAGE_SELF, every thread).
func selfCPU(b testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rssMB returns VmRSS from a /proc/<pid>/status file, in MB (10^6 bytes).
func rssMB(b testing.TB, statusPath string) float64 {
	b.Helper()
	data, err := os.ReadFile(statusPath)
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				b.Fatalf("%s: VmRSS %q: %v", statusPath, rest, err)
			}
			return kb * 1024 / 1e6
		}
	}
	b.Fatalf("%s: no VmRSS", statusPath)
	return 0
}
