package testrig

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	// readyTimeout bounds how long a component may take to answer after it
	// was started. Components start in well under a second on an idle
	// machine; the margin covers parallel starts on a loaded 2-core CI box.
	readyTimeout = 15 * time.Second
	// stopGrace is how long a component gets to exit after SIGTERM.
	stopGrace = 3 * time.Second
	// startAttempts bounds the retries on fresh ports when a component exits
	// during start-up, typically because another process took its port
	// between the probe and the bind.
	startAttempts = 3
	// logTailLines is how much of a component's log is shown on failure.
	logTailLines = 40
	pollInterval = 25 * time.Millisecond
)

// errExited reports a component that exited before it became ready.
var errExited = errors.New("exited during start-up")

// inCI reports whether missing components must fail tests rather than skip
// them.
func inCI() bool {
	ci, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && ci
}

// Missing reports a component the test needs and cannot find: it fails
// the test under CI, where provisioning must have installed it, and skips
// it elsewhere.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := "testrig: " + fmt.Sprintf(format, args...)
	if inCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// sbinDirs are searched after PATH: Debian installs daemons there, and a
// non-root user's PATH often lacks them.
var sbinDirs = []string{"/usr/local/sbin", "/usr/sbin", "/sbin"}

// lookBinary finds an executable on PATH or in the sbin directories.
func lookBinary(name string) (string, bool) {
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	for _, d := range sbinDirs {
		p := filepath.Join(d, name)
		if isExecutable(p) {
			return p, true
		}
	}
	return "", false
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// Require returns the path of binary bin from Debian package pkg, or skips
// (fails under CI) the test, looking on PATH and then in the sbin
// directories.
func Require(t testing.TB, bin, pkg string) string {
	t.Helper()
	p, ok := lookBinary(bin)
	if !ok {
		Missing(t, "%s not found on PATH or in /usr/sbin: install the Debian package %s (`make test` provisions it with deploy/testrig/provision.sh)", bin, pkg)
	}
	return p
}

// ports remembers every port handed out by this process, so that components
// started in parallel never get the same port from the kernel's probe.
var ports struct {
	sync.Mutex
	used map[string]bool
}

// freePort returns a loopback port that was free a moment ago for network
// "tcp" or "udp".
func freePort(network string) (int, error) {
	for range 50 {
		var port int
		switch network {
		case "tcp":
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return 0, fmt.Errorf("testrig: probe free tcp port: %w", err)
			}
			port = l.Addr().(*net.TCPAddr).Port
			l.Close()
		case "udp":
			c, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				return 0, fmt.Errorf("testrig: probe free udp port: %w", err)
			}
			port = c.LocalAddr().(*net.UDPAddr).Port
			c.Close()
		default:
			return 0, fmt.Errorf("testrig: unknown network %q", network)
		}
		key := network + "/" + strconv.Itoa(port)
		ports.Lock()
		if ports.used == nil {
			ports.used = make(map[string]bool)
		}
		taken := ports.used[key]
		ports.used[key] = true
		ports.Unlock()
		if !taken {
			return port, nil
		}
	}
	return 0, fmt.Errorf("testrig: no free %s port", network)
}

// FreeAddr returns "127.0.0.1:port" with a TCP port that was free a moment
// ago and that no other caller in this test binary has been given, for a
// component under test to listen on.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(mustFreePort(t, "tcp"))
}

func mustFreePort(t testing.TB, network string) int {
	t.Helper()
	p, err := freePort(network)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// tempDir makes a directory with the given mode directly under os.TempDir(),
// removed when the test ends. Unlike t.TempDir its path is short (unix
// socket paths are limited to 108 bytes) and its parent is traversable by
// other users (snmpsim runs as nobody). The name carries the test binary's
// pid, so directories left by a binary that was killed (a test timeout runs
// no cleanups) are removed by the next one.
func tempDir(t testing.TB, pattern string, mode os.FileMode) string {
	t.Helper()
	sweepOnce.Do(sweepStaleDirs)
	dir, err := os.MkdirTemp("", fmt.Sprintf("testrig-%s-%d-", pattern, os.Getpid()))
	if err != nil {
		t.Fatalf("testrig: %v", err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Logf("testrig: remove %s: %v", dir, err)
		}
	})
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatalf("testrig: %v", err)
	}
	return dir
}

var sweepOnce sync.Once

// sweepStaleDirs removes the directories of test binaries that no longer
// run.
func sweepStaleDirs() {
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), "testrig-*-*-*"))
	for _, m := range matches {
		parts := strings.Split(filepath.Base(m), "-")
		if len(parts) < 4 {
			continue
		}
		pid, err := strconv.Atoi(parts[len(parts)-2])
		if err != nil || pid <= 0 || pid == os.Getpid() || processExists(pid) {
			continue
		}
		_ = os.RemoveAll(m)
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatalf("testrig: %v", err)
	}
}

// proc is one run of a component's process.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has been waited for
	err  error         // exit status; valid after done is closed
}

// ids are the user and group a component runs as.
type ids struct{ uid, gid uint32 }

func startProc(logPath, dir string, env []string, runAs *ids, bin string, args []string) (*proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("testrig: open log: %w", err)
	}
	defer f.Close() // the child holds its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.SysProcAttr = sysProcAttr(runAs)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("testrig: start %s: %w", bin, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		// Children the component spawned (snmpd pass scripts, for
		// instance) may outlive it. Kill them at once: the group id stays
		// reserved while they run, and is not yet reused if they don't.
		signalGroup(cmd, cmd.Process.Pid, sigKill)
		close(p.done)
	}()
	return p, nil
}

func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'") {
			a = strconv.Quote(a)
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop terminates the process and everything it started, and waits for it.
func (p *proc) stop() {
	if p.exited() {
		return
	}
	pid := p.cmd.Process.Pid
	signalGroup(p.cmd, pid, sigTerm)
	select {
	case <-p.done:
	case <-time.After(stopGrace):
		signalGroup(p.cmd, pid, sigKill)
		<-p.done
	}
}

// service is a component's process across restarts: its directory, log,
// command line and readiness check.
type service struct {
	name    string // component name, for messages
	dir     string
	logPath string
	bin     string
	env     []string
	runAs   *ids // nil: the test's own user
	timeout time.Duration

	mu    sync.Mutex
	args  []string
	ready func(ctx context.Context) error
	p     *proc

	off      atomic.Int64 // log offset at which the current process started
	reported atomic.Bool  // the log was already shown with a start-up failure
}

// newService makes the component's directory and registers the cleanup that
// stops it and, when the test failed, shows its log.
func newService(t testing.TB, name, bin string, dirMode os.FileMode) *service {
	t.Helper()
	s := &service{
		name:    name,
		dir:     tempDir(t, name, dirMode),
		bin:     bin,
		timeout: readyTimeout,
	}
	s.logPath = filepath.Join(s.dir, name+".log")
	t.Cleanup(func() {
		s.stop()
		if t.Failed() && !s.reported.Load() {
			t.Logf("testrig: last lines of the %s log:\n%s", name, s.tail(logTailLines))
		}
	})
	return s
}

// launch starts the component and waits until it is ready. configure picks
// ports, writes the configuration and sets args and ready; it is called
// again before each retry.
func (s *service) launch(t testing.TB, configure func()) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		configure()
		err := s.start()
		if err == nil {
			return
		}
		out := lastLines(s.output(), logTailLines)
		if errors.Is(err, errExited) && attempt < startAttempts {
			t.Logf("testrig: %s %v, retrying on other ports; it logged:\n%s", s.name, err, out)
			continue
		}
		s.reported.Store(true)
		t.Fatalf("testrig: %s: %v; it logged:\n%s", s.name, err, out)
	}
}

// start runs the process with the current args and waits for readiness.
func (s *service) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p != nil && !s.p.exited() {
		return fmt.Errorf("testrig: %s already running", s.name)
	}
	if err := s.logHeader(); err != nil {
		return err
	}
	p, err := startProc(s.logPath, s.dir, s.env, s.runAs, s.bin, s.args)
	if err != nil {
		return err
	}
	s.p = p
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	var last error
	for {
		if p.exited() {
			return fmt.Errorf("%w (%v)", errExited, p.err)
		}
		if last = s.ready(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			p.stop()
			return fmt.Errorf("not ready after %v: %w", s.timeout, last)
		case <-p.done:
		case <-time.After(pollInterval):
		}
	}
}

// logHeader writes the command line to the log, and remembers where the
// process's own output starts.
func (s *service) logHeader() error {
	f, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("testrig: open log: %w", err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "testrig: starting %s %s\n", s.bin, quoteArgs(s.args)); err != nil {
		return fmt.Errorf("testrig: write log: %w", err)
	}
	off, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("testrig: log offset: %w", err)
	}
	s.off.Store(off)
	return nil
}

func (s *service) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p != nil {
		s.p.stop()
	}
}

// output returns what the current (or last) process wrote to its log.
func (s *service) output() string {
	f, err := os.Open(s.logPath)
	if err != nil {
		return ""
	}
	off := s.off.Load()
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// tail returns the last n lines of the log, reading at most its last 64 KiB.
func (s *service) tail(n int) string {
	f, err := os.Open(s.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	const limit = 64 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > limit {
		if _, err := f.Seek(fi.Size()-limit, io.SeekStart); err != nil {
			return fmt.Sprintf("(read log: %v)", err)
		}
	}
	b, _ := io.ReadAll(f)
	return lastLines(string(b), n)
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// dialReady reports whether a TCP listener accepts connections at addr.
func dialReady(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: 250 * time.Millisecond}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// SkipUnderRace skips a real-time system test when the race detector is
// on. Such a test runs whole racks in real time and judges latency: next
// to the rest of `go test -race ./...`, the machine's load would decide
// its outcome, so `make test` runs these tests in a second pass without
// the detector (`make test`'s second line names them).
func SkipUnderRace(t testing.TB) {
	t.Helper()
	if raceEnabled {
		t.Skip("real-time system test: make test runs it in its second pass, without the race detector")
	}
}
