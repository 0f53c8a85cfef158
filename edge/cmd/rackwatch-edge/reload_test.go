package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/deploy/testrig"
)

// TestSIGHUPReloadsTheConfiguration runs the binary, changes its file and
// sends SIGHUP: the change is applied without a restart, and an invalid
// file is reported with file, line and key while the process runs on.
func TestSIGHUPReloadsTheConfiguration(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "rackwatch-edge")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "edge.yaml")
	head := fmt.Sprintf("version: 1\nedge: {node: rack1, state_dir: %s}\nmqtt: {broker: 'tcp://127.0.0.1:1', primary_host: \"\"}\n", dir)
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(head+body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`i2c:
  - bus: emulated
    sensors:
      - {name: inlet, chip: tmp102, address: 0x48, period: 200ms}
      - {name: outlet, chip: tmp102, address: 0x49, period: 200ms}
`)
	var stderr testrig.Buffer
	cmd := exec.Command(bin, "run", "-config", path)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("exit after SIGTERM: %v\n%s", err, stderr.String())
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Error("no exit 10s after SIGTERM")
		}
	}()
	waitLog := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), what); {
			select {
			case err := <-done:
				t.Fatalf("the edge exited (%v) before logging %q:\n%s", err, what, stderr.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the log:\n%s", what, stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitLog("edge node starting")

	write(`i2c:
  - bus: emulated
    sensors:
      - {name: inlet, chip: tmp102, address: 0x48, period: 300ms}
      - {name: outlet, chip: tmp102, address: 0x49, period: 200ms}
      - {name: psu, chip: tmp102, address: 0x4a, period: 200ms}
`)
	cmd.Process.Signal(syscall.SIGHUP)
	waitLog(`msg="configuration reloaded" kept=1 restarted=[inlet] removed=[] added=[psu]`)

	write(`i2c:
  - bus: emulated
    sensors:
      - name: inlet
        chip: tmp102
        address: 0x48
        perod: 1s
`)
	cmd.Process.Signal(syscall.SIGHUP)
	waitLog(`edge.yaml:10: i2c[0].sensors[0].perod: unknown key \"perod\"`)
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("the edge exited after an invalid reload: %v", err)
	default:
	}
	if n := strings.Count(stderr.String(), "configuration reloaded"); n != 1 {
		t.Errorf("%d reloads logged; the invalid file must change nothing", n)
	}
}
