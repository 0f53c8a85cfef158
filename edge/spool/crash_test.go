package spool

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	crashHelperEnv = "SPOOL_CRASH_HELPER_DIR"
	softHelperEnv  = "SPOOL_SOFT_HELPER_DIR"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashHelperEnv); dir != "" {
		crashHelper(dir)
		os.Exit(0)
	}
	if dir := os.Getenv(softHelperEnv); dir != "" {
		softHelper(dir)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// softHelper appends records without ever syncing (the flush interval is
// an hour), waits for two write intervals, says how far it got, and waits
// to be killed.
func softHelper(dir string) {
	s, err := Open(dir, Opts{FlushInterval: time.Hour, WriteInterval: 20 * time.Millisecond, Logger: quiet})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	next := s.End()
	for range 50 {
		r := rec(next, 3)
		if err := s.Append(r); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		next = r.End()
	}
	time.Sleep(100 * time.Millisecond)
	fmt.Fprintf(os.Stdout, "written %d\n", next)
	select {}
}

// TestSIGKILLKeepsWrittenRecords checks the guarantee between syncs: a
// record older than one write interval is in the page cache and survives
// the process being killed, although it was never synced.
func TestSIGKILLKeepsWrittenRecords(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), softHelperEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	want, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(line, "written ")), 10, 64)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	s, err := Open(dir, Opts{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.End() != want || want != 150 {
		t.Fatalf("after SIGKILL the spool ends at %d, the helper had written %d (want 150)", s.End(), want)
	}
	recs, err := s.Peek(100)
	if err != nil || len(recs) != 50 || !recs[0].Replayed || recs[49].End() != want {
		t.Errorf("replayed %d records (err %v)", len(recs), err)
	}
}

// crashHelper appends numbered records to the spool in dir until it is
// killed. After each Flush that returns nil it prints "durable N": every
// sample numbered below N must survive the kill. Numbering resumes at End,
// so successive runs continue one sequence.
func crashHelper(dir string) {
	s, err := Open(dir, Opts{FlushInterval: 3 * time.Millisecond, SegmentBytes: 4096, MaxBytes: 1 << 30, Logger: quiet})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	next := s.End()
	for {
		r := rec(next, 1+rng.IntN(8))
		if err := s.Append(r); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		next = r.End()
		if rng.IntN(10) == 0 {
			if err := s.Flush(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(4)
			}
			fmt.Fprintf(os.Stdout, "durable %d\n", next)
		}
	}
}

// TestSIGKILL kills a process appending to the spool at random moments,
// several times over the same directory. The guarantee checked: every
// record appended before a Flush that returned nil is replayed, the
// replayed records are exactly the sequence appended up to some point (in
// order, no gaps, no damage), and only the unflushed tail may be missing.
func TestSIGKILL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	var durable uint64 // the highest number proven durable so far
	for round := range 8 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashHelperEnv+"="+dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan uint64)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if n, ok := strings.CutPrefix(sc.Text(), "durable "); ok {
					v, err := strconv.ParseUint(n, 10, 64)
					if err == nil {
						lines <- v
					}
				}
			}
		}()
		// Let it flush at least once, then kill it at a random moment.
		select {
		case v, ok := <-lines:
			if !ok {
				cmd.Wait()
				t.Fatalf("round %d: helper ended before flushing: %s", round, stderr.String())
			}
			durable = max(durable, v)
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("round %d: helper never flushed: %s", round, stderr.String())
		}
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		for v := range lines {
			durable = max(durable, v)
		}
		err = cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: helper ended with %v, not SIGKILL: %s", round, err, stderr.String())
		}

		s, err := Open(dir, testOpts())
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		rs := peekAll(t, s)
		st := s.Stats()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		var end uint64
		for i, r := range rs {
			if r.First != end {
				t.Fatalf("round %d: record %d starts at %d, want %d (a gap or a repeat)", round, i, r.First, end)
			}
			if d := diffRecord(r, rec(r.First, len(r.Samples))); d != "" || !r.Replayed {
				t.Fatalf("round %d: record %d damaged: %s (replayed %v)", round, i, d, r.Replayed)
			}
			end = r.End()
		}
		if end < durable {
			t.Fatalf("round %d: samples up to %d replayed, but %d were reported durable", round, end, durable)
		}
		t.Logf("round %d: %d records, samples 0-%d replayed, %d reported durable, %d corrupt regions (torn tails)",
			round, len(rs), end, durable, st.Corrupt)
		durable = end // the next run resumes after what survived
	}
}
