//go:build linux

package snmppoll

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BenchmarkVsSnmpExporter runs the Pollers in a process of their own, this
// test binary started again on BenchmarkPollerProcess, so that their CPU
// time and memory are measured as the exporter's are: per process, without
// the benchmark's HTTP client and bookkeeping.
//
// The parent passes the targets and the profile directory in the
// environment, writes "poll N" lines on the child's stdin, and reads one
// reply per line on the child's file descriptor 3:
//
//	ok <values> <round wall ns> <process CPU ns>
//	err <message>
//
// The child's stdout and stderr go to a log the parent shows on failure.
const (
	vsTargetsEnv  = "RACKWATCH_VS_TARGETS"  // comma-separated addresses
	vsProfilesEnv = "RACKWATCH_VS_PROFILES" // Opts.ProfileDirs entry
)

// BenchmarkPollerProcess is the polling side of BenchmarkVsSnmpExporter,
// run in a child process; on its own it does nothing.
func BenchmarkPollerProcess(b *testing.B) {
	targets := os.Getenv(vsTargetsEnv)
	if targets == "" {
		b.Skip("the polling process of BenchmarkVsSnmpExporter, which starts it")
	}
	replies := os.NewFile(3, "replies")
	if replies == nil {
		b.Fatal("no file descriptor 3 for replies")
	}
	defer replies.Close()
	var pollers []*Poller
	for i, addr := range strings.Split(targets, ",") {
		p, err := New(vsPollerOpts(i, addr, os.Getenv(vsProfilesEnv)))
		if err != nil {
			fmt.Fprintf(replies, "err %v\n", err)
			return
		}
		defer p.Close()
		pollers = append(pollers, p)
	}
	fmt.Fprintf(replies, "ok 0 0 %d\n", selfCPU(b))
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		arg, ok := strings.CutPrefix(in.Text(), "poll ")
		n, err := strconv.Atoi(arg)
		if !ok || err != nil || n < 1 || n > len(pollers) {
			fmt.Fprintf(replies, "err bad command %q\n", in.Text())
			continue
		}
		t0 := time.Now()
		values, err := pollAll(b.Context(), pollers[:n])
		wall := time.Since(t0)
		if err != nil {
			fmt.Fprintf(replies, "err %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
			continue
		}
		fmt.Fprintf(replies, "ok %d %d %d\n", values, wall, selfCPU(b))
	}
}

// vsPollerOpts describes target i as the exporter polls it with its
// defaults: v2c, community public, max-repetitions 25, timeout 5 s, 3
// retries.
func vsPollerOpts(i int, addr, profileDir string) *Opts {
	return &Opts{
		Name:           "t" + strconv.Itoa(i),
		Address:        addr,
		Version:        "2c",
		Community:      "public",
		MaxRepetitions: 25,
		Timeout:        5 * time.Second,
		Retries:        3,
		Profiles:       []string{vsProfile},
		ProfileDirs:    []string{profileDir},
	}
}

// pollAll polls every poller at once, one goroutine each, and returns the
// values of the profile's objects they took in.
func pollAll(ctx context.Context, pollers []*Poller) (int, error) {
	errs := make([]error, len(pollers))
	values := make([]int, len(pollers))
	var wg sync.WaitGroup
	for i, p := range pollers {
		wg.Go(func() {
			if _, err := p.Poll(ctx); err != nil {
				errs[i] = err
				return
			}
			values[i] = polledValues(p)
		})
	}
	wg.Wait()
	total := 0
	for _, v := range values {
		total += v
	}
	return total, errors.Join(errs...)
}

// polledValues counts the values p's last poll stored: every cell of its
// tables, and sysUpTime.
func polledValues(p *Poller) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	if p.clock.ok {
		n++
	}
	for _, ts := range p.tables {
		for i := range ts.cells {
			if ts.cells[i].set {
				n++
			}
		}
	}
	return n
}

// pollerProc is the running child process.
type pollerProc struct {
	pid     int
	cmd     *exec.Cmd
	in      io.WriteCloser
	replies *bufio.Reader
	logPath string
	done    chan struct{}
	// cpu is the child's CPU time at its last reply.
	cpu time.Duration
}

func startPollerProc(b testing.TB, targets []string, profileDir string) *pollerProc {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	p := &pollerProc{logPath: filepath.Join(b.TempDir(), "pollers.log"), done: make(chan struct{})}
	logf, err := os.Create(p.logPath)
	if err != nil {
		b.Fatal(err)
	}
	defer logf.Close()
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close() // the child holds its own
	p.replies = bufio.NewReader(r)
	b.Cleanup(func() { r.Close() })
	p.cmd = exec.Command(exe, "-test.run=^$", "-test.bench=^BenchmarkPollerProcess$", "-test.benchtime=1x")
	p.cmd.Env = append(os.Environ(), vsTargetsEnv+"="+strings.Join(targets, ","), vsProfilesEnv+"="+profileDir)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.ExtraFiles = []*os.File{w}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if p.in, err = p.cmd.StdinPipe(); err != nil {
		b.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	p.pid = p.cmd.Process.Pid
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	b.Cleanup(p.stop)
	p.reply(b) // ready
	return p
}

// poll has the child poll its first n targets at once, and returns the
// values they took in and the round's wall time.
func (p *pollerProc) poll(b testing.TB, n int) (values int, wall time.Duration) {
	b.Helper()
	if _, err := fmt.Fprintf(p.in, "poll %d\n", n); err != nil {
		b.Fatalf("polling process: %v; it logged:\n%s", err, readLog(p.logPath))
	}
	return p.reply(b)
}

func (p *pollerProc) reply(b testing.TB) (values int, wall time.Duration) {
	b.Helper()
	line, err := p.replies.ReadString('\n')
	if err != nil {
		b.Fatalf("polling process: %v; it logged:\n%s", err, readLog(p.logPath))
	}
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "ok" {
		b.Fatalf("polling process: %s", line)
	}
	var v [3]int64
	for i := range v {
		if v[i], err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
			b.Fatalf("polling process: %q: %v", line, err)
		}
	}
	p.cpu = time.Duration(v[2])
	return int(v[0]), time.Duration(v[1])
}

func (p *pollerProc) stop() {
	p.in.Close()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func readLog(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}
