package testrig

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeTB records what the rig reports to a test. Fatal and Skip end the
// calling goroutine, as testing.T's do.
type fakeTB struct {
	testing.TB // nil: calling anything not overridden panics
	failed     bool

	mu       sync.Mutex
	cleanups []func()
	logs     []string
	fatal    string
	skip     string
}

func (f *fakeTB) Helper()      {}
func (f *fakeTB) Name() string { return "fake" }
func (f *fakeTB) Failed() bool { return f.failed }
func (f *fakeTB) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}
func (f *fakeTB) Logf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
}
func (f *fakeTB) Fatal(args ...any) { f.end(&f.fatal, fmt.Sprint(args...)) }
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.end(&f.fatal, fmt.Sprintf(format, args...))
}
func (f *fakeTB) Skip(args ...any) { f.end(&f.skip, fmt.Sprint(args...)) }
func (f *fakeTB) Skipf(format string, args ...any) {
	f.end(&f.skip, fmt.Sprintf(format, args...))
}

func (f *fakeTB) end(field *string, msg string) {
	f.mu.Lock()
	*field = msg
	f.mu.Unlock()
	runtime.Goexit()
}

// run calls fn in its own goroutine, as the testing package runs a test,
// and then the registered cleanups in reverse order.
func (f *fakeTB) run(fn func(testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func TestRequireMissingBinary(t *testing.T) {
	tests := []struct {
		ci       string
		wantFail bool
	}{
		{ci: "", wantFail: false},
		{ci: "false", wantFail: false},
		{ci: "true", wantFail: true},
		{ci: "1", wantFail: true},
	}
	for _, tt := range tests {
		t.Run("CI="+tt.ci, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			f := &fakeTB{}
			reached := false
			f.run(func(tb testing.TB) {
				Require(tb, "rackwatch-no-such-daemon", "rackwatch-pkg")
				reached = true
			})
			if reached {
				t.Fatal("require returned for a missing binary")
			}
			msg := f.skip
			if tt.wantFail {
				msg = f.fatal
			}
			if msg == "" {
				t.Fatalf("fatal %q, skip %q: want the other one", f.fatal, f.skip)
			}
			for _, want := range []string{"rackwatch-no-such-daemon", "rackwatch-pkg", "make test"} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not name %q", msg, want)
				}
			}
		})
	}
}

func TestRequireFindsSbin(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	for _, d := range sbinDirs {
		if isExecutable(filepath.Join(d, "snmpd")) {
			if p := Require(t, "snmpd", "snmpd"); p != filepath.Join(d, "snmpd") {
				t.Fatalf("require = %q", p)
			}
			return
		}
	}
	t.Skip("snmpd is not installed in an sbin directory")
}

func TestSortedSnmprec(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
		err  bool
	}{
		{
			name: "numeric arcs",
			in:   "1.3.6.1.2.1.4.20.1.1.10.0.0.10|64|0a00000a\n1.3.6.1.2.1.4.20.1.1.10.0.0.9|64|0a000009\n",
			want: []string{"1.3.6.1.2.1.4.20.1.1.10.0.0.9|64|0a000009", "1.3.6.1.2.1.4.20.1.1.10.0.0.10|64|0a00000a"},
		},
		{
			name: "prefix first, value with bars kept",
			in:   "1.3.6.1.2.1.1.1.0|4|a|b\n\n# comment\n1.3.6.1.2.1.1|4|x\n",
			want: []string{"1.3.6.1.2.1.1|4|x", "1.3.6.1.2.1.1.1.0|4|a|b"},
		},
		{name: "no separator", in: "1.3.6.1\n", err: true},
		{name: "bad arc", in: "1.3.x|4|a\n", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sortedSnmprec(strings.NewReader(tt.in))
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTrapdMIBArgs(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		dirs []string
		mibs string
		want []string
	}{
		{want: []string{"-m", "", "-On"}},
		{dirs: []string{"mibs"}, want: []string{"-m", "", "-On"}},
		{mibs: "ALL", want: []string{"-m", "ALL"}},
		{dirs: []string{"+mibs", "/x"}, mibs: "RACKWATCH-MIB", want: []string{"-m", "RACKWATCH-MIB", "-M", "+" + filepath.Join(wd, "mibs") + ":/x"}},
	}
	for _, tt := range tests {
		got, err := trapdMIBArgs(tt.dirs, tt.mibs)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("trapdMIBArgs(%q, %q) = %q, want %q", tt.dirs, tt.mibs, got, tt.want)
		}
	}
}

// gone reports whether pid has exited. An orphan that has exited stays a
// zombie until init reaps it, so zombies count as gone, and init gets a
// moment.
func gone(pid int) bool {
	for range 40 {
		if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			return true
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err == nil {
			// The state follows the parenthesised command name.
			if i := strings.LastIndexByte(string(b), ')'); i >= 0 && strings.HasPrefix(string(b[i:]), ") Z") {
				return true
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	return false
}

// TestCleanupStopsGroup starts a component whose child ignores SIGTERM and
// outlives it: the cleanup must still leave no process behind, remove the
// directory, and show the log because the test failed.
func TestCleanupStopsGroup(t *testing.T) {
	f := &fakeTB{failed: true}
	var dir string
	f.run(func(tb testing.TB) {
		s := newService(tb, "sh", "/bin/sh", 0o755)
		dir = s.dir
		s.launch(tb, func() {
			s.args = []string{"-c", "(trap '' TERM; exec sleep 300) & echo $! > child.pid; echo component says hello; wait"}
			s.ready = func(context.Context) error {
				_, err := os.Stat(filepath.Join(s.dir, "child.pid"))
				return err
			}
		})
		b, err := os.ReadFile(filepath.Join(s.dir, "child.pid"))
		if err != nil {
			tb.Fatal(err)
		}
		child, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		t.Cleanup(func() {
			if child > 0 && !gone(child) {
				t.Errorf("child %d of the component survived its cleanup", child)
				syscall.Kill(child, syscall.SIGKILL)
			}
		})
		if errors.Is(syscall.Kill(child, 0), syscall.ESRCH) {
			tb.Fatal("component's child not running")
		}
	})
	if f.fatal != "" {
		t.Fatal(f.fatal)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("directory %s left behind: %v", dir, err)
	}
	if logs := strings.Join(f.logs, "\n"); !strings.Contains(logs, "component says hello") {
		t.Errorf("failed test's log lacks the component output:\n%s", logs)
	}
}

func TestLaunchRetriesThenFails(t *testing.T) {
	f := &fakeTB{}
	configured := 0
	f.run(func(tb testing.TB) {
		s := newService(tb, "false", "/bin/sh", 0o755)
		s.launch(tb, func() {
			configured++
			s.args = []string{"-c", "echo cannot bind >&2; exit 1"}
			s.ready = func(context.Context) error { return errors.New("not yet") }
		})
	})
	if configured != startAttempts {
		t.Errorf("configured %d times, want %d", configured, startAttempts)
	}
	if !strings.Contains(f.fatal, "exited during start-up") || !strings.Contains(f.fatal, "cannot bind") {
		t.Errorf("fatal message %q lacks the cause and the log", f.fatal)
	}
}

func TestLaunchTimesOut(t *testing.T) {
	f := &fakeTB{}
	var pid int
	start := time.Now()
	f.run(func(tb testing.TB) {
		s := newService(tb, "sleep", "/bin/sh", 0o755)
		s.timeout = 300 * time.Millisecond
		s.launch(tb, func() {
			s.args = []string{"-c", "exec sleep 300"}
			s.ready = func(context.Context) error {
				if s.p != nil {
					pid = s.p.cmd.Process.Pid
				}
				return errors.New("no answer")
			}
		})
	})
	if !strings.Contains(f.fatal, "not ready after") || !strings.Contains(f.fatal, "no answer") {
		t.Errorf("fatal message %q", f.fatal)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("timing out took %v", time.Since(start))
	}
	if pid == 0 || !gone(pid) {
		t.Errorf("process %d still runs after the timeout", pid)
	}
}

// TestComponentsLeaveNoProcess starts each real component in a subtest and
// checks that its process is gone once the subtest's cleanups have run.
func TestComponentsLeaveNoProcess(t *testing.T) {
	simData := func(t testing.TB) string {
		dir := tempDir(t, "simdata", 0o755)
		writeFile(t, filepath.Join(dir, "rig.snmprec"), "1.3.6.1.2.1.1.1.0|4|rig\n")
		return dir
	}
	components := map[string]func(testing.TB) *service{
		"mosquitto": func(t testing.TB) *service { return StartMosquitto(t, nil).s },
		"haproxy":   func(t testing.TB) *service { return StartHAProxy(t, HAProxyOpts{}).s },
		"snmpd":     func(t testing.TB) *service { return StartSnmpd(t, SnmpdOpts{}).s },
		"snmptrapd": func(t testing.TB) *service { return StartSnmptrapd(t, SnmptrapdOpts{}).s },
		"snmpsim":   func(t testing.TB) *service { return StartSnmpsim(t, simData(t)).s },
		"influxd":   func(t testing.TB) *service { return StartInfluxDB(t).s },
	}
	for name, start := range components {
		var pid int
		var dir string
		t.Run(name, func(t *testing.T) {
			s := start(t)
			pid, dir = s.p.cmd.Process.Pid, s.dir
		})
		if pid == 0 {
			continue // skipped
		}
		if !gone(pid) {
			t.Errorf("%s (pid %d) still runs after its test", name, pid)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s directory %s left behind: %v", name, dir, err)
		}
	}
}

func TestSweepStaleDirs(t *testing.T) {
	dead := exec.Command("/bin/true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale, err := os.MkdirTemp("", fmt.Sprintf("testrig-sweep-%d-", dead.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(stale)
	live := tempDir(t, "sweep", 0o755)
	sweepStaleDirs()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("directory of exited pid %d kept: %v", dead.Process.Pid, err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("own directory removed: %v", err)
	}
}
