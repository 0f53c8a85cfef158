package seqstore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCleanRestartContinuesExactly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seq.json")
	s, err := Open(path, 10)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range []int{3, 4, 20} {
		first, err := s.Reserve(n)
		if err != nil {
			t.Fatal(err)
		}
		if want := []uint64{0, 3, 7}[i]; first != want {
			t.Errorf("Reserve(%d) = %d, want %d", n, first, want)
		}
	}
	bd, _ := s.NextBdSeq()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, 10)
	if err != nil {
		t.Fatal(err)
	}
	if s.Peek() != 27 || s.Unclean() {
		t.Errorf("after clean close: next %d unclean %v; want 27, false", s.Peek(), s.Unclean())
	}
	if bd2, _ := s.NextBdSeq(); bd2 != bd+1 {
		t.Errorf("bdSeq after restart = %d, want %d", bd2, bd+1)
	}
}

func TestCrashNeverReusesNumbers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seq.json")
	s, err := Open(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	for i := 0; i < 250; i++ {
		last, _ = s.Reserve(1)
	}
	// No Close: the process died.
	s2, err := Open(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !s2.Unclean() {
		t.Error("crash not detected")
	}
	if got := s2.Peek(); got <= last || got > last+1+100 {
		t.Errorf("after crash next = %d, want in (%d, %d]", got, last, last+101)
	}
}

func TestCorruptStateIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seq.json")
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path, 0)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("err = %v, want one naming %s", err, path)
	}
}

func TestBdSeqWraps(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "seq.json"), 0)
	if err != nil {
		t.Fatal(err)
	}
	var bd uint8
	for i := 0; i < 256; i++ {
		bd, _ = s.NextBdSeq()
	}
	if bd != 0 {
		t.Errorf("bdSeq after 256 connections = %d, want 0", bd)
	}
}

func TestCrashWithinTheSameBootRewinds(t *testing.T) {
	boot := "boot-a"
	old := bootID
	bootID = func() string { return boot }
	defer func() { bootID = old }()
	path := filepath.Join(t.TempDir(), "seq.json")
	s, _ := Open(path, 100)
	s.Reserve(10) // numbers 0–9 handed out; the spool holds them
	s2, _ := Open(path, 100)
	if !s2.Unclean() || !s2.SameBoot() {
		t.Fatalf("unclean %v, same boot %v; want both", s2.Unclean(), s2.SameBoot())
	}
	if s2.Peek() != 110 {
		t.Fatalf("resumes at %d, want the reservation mark 110", s2.Peek())
	}
	s2.Rewind(10)
	if first, _ := s2.Reserve(1); first != 10 {
		t.Errorf("after rewind the next number is %d, want 10", first)
	}
	boot = "boot-b" // power cut: a new boot
	s3, _ := Open(path, 100)
	if s3.SameBoot() {
		t.Error("a new boot taken for the same one")
	}
}
