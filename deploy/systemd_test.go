package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rackwatch/rackwatch/deploy/testrig"
)

func build(t *testing.T, env []string, dir string, pkgs ...string) {
	t.Helper()
	args := append([]string{"build", "-trimpath", "-ldflags", "-s -w", "-o", dir}, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
}

func TestSystemdUnitsVerify(t *testing.T) {
	analyze := testrig.Require(t, "systemd-analyze", "systemd")
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	build(t, []string{"CGO_ENABLED=0"}, bin+"/", "github.com/rackwatch/rackwatch/edge/cmd/rackwatch-edge", "github.com/rackwatch/rackwatch/collector/cmd/rackwatch-collector")
	units, _ := filepath.Glob("systemd/*.service")
	if len(units) != 2 {
		t.Fatalf("units: %v", units)
	}
	var paths []string
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		if filepath.Base(u) == "rackwatch-edge.service" {
			for _, want := range []string{"Type=notify", "WatchdogSec=", "DeviceAllow=char-i2c", "ProtectSystem=strict"} {
				if !strings.Contains(text, want) {
					t.Errorf("%s lacks %s", u, want)
				}
			}
		}
		// verify checks that ExecStart exists: point it at the fresh build.
		p := filepath.Join(dir, filepath.Base(u))
		os.WriteFile(p, []byte(strings.ReplaceAll(text, "/usr/local/bin", bin)), 0o644)
		paths = append(paths, p)
	}
	out, err := exec.Command(analyze, append([]string{"verify"}, paths...)...).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestARMBinaries runs the cross-built edge under qemu-user, as on a rack
// controller, and checks the size budget of the 32-bit ARM build.
func TestARMBinaries(t *testing.T) {
	for _, tc := range []struct {
		goarch, goarm, qemu string
		maxBytes            int64
	}{
		{"arm", "7", "qemu-arm-static", 12 << 20},
		{"arm64", "", "qemu-aarch64-static", 0},
	} {
		t.Run(tc.goarch, func(t *testing.T) {
			qemu := testrig.Require(t, tc.qemu, "qemu-user-static")
			dir := t.TempDir()
			build(t, []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + tc.goarch, "GOARM=" + tc.goarm}, dir+"/", "github.com/rackwatch/rackwatch/edge/cmd/rackwatch-edge")
			bin := filepath.Join(dir, "rackwatch-edge")
			if st, err := os.Stat(bin); err != nil {
				t.Fatal(err)
			} else if tc.maxBytes > 0 && st.Size() > tc.maxBytes {
				t.Errorf("linux/%s binary is %d bytes, budget %d", tc.goarch, st.Size(), tc.maxBytes)
			} else {
				t.Logf("linux/%s stripped binary: %.1f MB", tc.goarch, float64(st.Size())/(1<<20))
			}
			out, err := exec.Command(qemu, bin, "version").CombinedOutput()
			if err != nil || !strings.HasPrefix(string(out), "rackwatch-edge ") {
				t.Fatalf("version under %s: %v\n%s", tc.qemu, err, out)
			}
			conf := testrig.ShippedConfig(t, "config/edge.yaml")
			out, err = exec.Command(qemu, bin, "check-config", conf).CombinedOutput()
			if err != nil || !strings.Contains(string(out), conf+": ok") {
				t.Fatalf("check-config under %s: %v\n%s", tc.qemu, err, out)
			}
		})
	}
}
