package debian_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/deploy/testrig"
)

const (
	// What `make package` is given, as git would give it.
	testDescribe = "v1.2.3-4-gabc1234"
	testEpoch    = 1764201600 // 2025-11-27 00:00:00 UTC
	testVersion  = "1.2.3+git20251127.4.abc1234"
	repoRoot     = "../.."
)

// arches is what each package must hold: the ELF machine and class of the
// binary and the Go settings `make package` builds it with.
var arches = map[string]struct {
	machine elf.Machine
	class   elf.Class
	goarch  string
	goarm   string
}{
	"amd64": {elf.EM_X86_64, elf.ELFCLASS64, "amd64", ""},
	"arm64": {elf.EM_AARCH64, elf.ELFCLASS64, "arm64", ""},
	"armhf": {elf.EM_ARM, elf.ELFCLASS32, "arm", "7"},
}

// wantContents is the whole data tree of every package; dpkg-deb
// --root-owner-group makes every entry root/root.
var wantContents = map[string]string{
	"./":                        "drwxr-xr-x",
	"./etc/":                    "drwxr-xr-x",
	"./etc/rackwatch/":          "drwxr-xr-x",
	"./etc/rackwatch/edge.yaml": "-rw-r-----",
	"./lib/":                    "drwxr-xr-x",
	"./lib/systemd/":            "drwxr-xr-x",
	"./lib/systemd/system/":     "drwxr-xr-x",
	"./lib/systemd/system/rackwatch-edge.service": "-rw-r--r--",
	"./usr/":                   "drwxr-xr-x",
	"./usr/bin/":               "drwxr-xr-x",
	"./usr/bin/rackwatch-edge": "-rwxr-xr-x",
	"./usr/lib/":               "drwxr-xr-x",
	"./usr/lib/sysusers.d/":    "drwxr-xr-x",
	"./usr/lib/sysusers.d/rackwatch-edge.conf": "-rw-r--r--",
	"./usr/share/":                    "drwxr-xr-x",
	"./usr/share/doc/":                "drwxr-xr-x",
	"./usr/share/doc/rackwatch-edge/": "drwxr-xr-x",
	"./usr/share/doc/rackwatch-edge/changelog.Debian.gz": "-rw-r--r--",
	"./usr/share/doc/rackwatch-edge/copyright":           "-rw-r--r--",
}

// TestMakePackage runs `make package` and inspects the three packages. It
// builds all of them rather than one: with the build cache warm (make test
// cross-builds first) the builds take seconds, and xz in dpkg-deb most of
// the 25 s on two cores.
func TestMakePackage(t *testing.T) {
	makeBin := testrig.Require(t, "make", "make")
	dpkgDeb := testrig.Require(t, "dpkg-deb", "dpkg")
	dist := t.TempDir()
	cmd := exec.Command(makeBin, "-C", repoRoot, "package", "DIST="+dist,
		"VERSION="+testDescribe, "SOURCE_DATE_EPOCH="+strconv.Itoa(testEpoch))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make package: %v\n%s", err, out)
	}
	entries, err := os.ReadDir(dist)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	var want []string
	for arch := range arches {
		want = append(want, fmt.Sprintf("rackwatch-edge_%s_%s.deb", testVersion, arch))
	}
	sort.Strings(want)
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("make package left %v in DIST, want %v", names, want)
	}

	for arch, a := range arches {
		t.Run(arch, func(t *testing.T) {
			t.Parallel()
			deb := filepath.Join(dist, fmt.Sprintf("rackwatch-edge_%s_%s.deb", testVersion, arch))
			root, control := extract(t, dpkgDeb, deb)
			checkControl(t, dpkgDeb, deb, arch)
			checkContents(t, dpkgDeb, deb, root)
			checkMaintainerFiles(t, root, control)
			checkBinary(t, filepath.Join(root, "usr/bin/rackwatch-edge"), arch, a.machine, a.class, a.goarch, a.goarm)
			checkUnit(t, root)
			checkDocs(t, root)
		})
	}
	t.Run("install", func(t *testing.T) {
		testInstall(t, filepath.Join(dist, fmt.Sprintf("rackwatch-edge_%s_amd64.deb", testVersion)))
	})
}

func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr)
	}
	return out
}

// extract unpacks the data and the control archive of deb.
func extract(t *testing.T, dpkgDeb, deb string) (root, control string) {
	t.Helper()
	dir := t.TempDir()
	root, control = filepath.Join(dir, "root"), filepath.Join(dir, "DEBIAN")
	run(t, dpkgDeb, "-x", deb, root)
	run(t, dpkgDeb, "-e", deb, control)
	return root, control
}

// fields parses deb-control(5) fields; continuation lines join with "\n".
func fields(t *testing.T, text string) map[string]string {
	t.Helper()
	f := map[string]string{}
	var last string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, " ") && last != "" {
			f[last] += "\n" + line
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("control line %q", line)
		}
		last = k
		f[k] = strings.TrimSpace(v)
	}
	return f
}

func checkControl(t *testing.T, dpkgDeb, deb, arch string) {
	// --info shows the control file and the control archive's members.
	info := string(run(t, dpkgDeb, "--info", deb))
	for _, m := range []string{"control", "conffiles", "md5sums", "postinst", "prerm", "postrm"} {
		if !strings.Contains(info, " "+m+" ") {
			t.Errorf("dpkg-deb --info lists no %s:\n%s", m, info)
		}
	}
	f := fields(t, string(run(t, dpkgDeb, "--field", deb)))
	for k, want := range map[string]string{
		"Package":      "rackwatch-edge",
		"Version":      testVersion,
		"Architecture": arch,
		"Section":      "net",
		"Priority":     "optional",
		"Homepage":     "https://github.com/rackwatch/rackwatch",
	} {
		if f[k] != want {
			t.Errorf("%s: %q, want %q", k, f[k], want)
		}
	}
	if m := f["Maintainer"]; !strings.Contains(m, " <") || !strings.HasSuffix(m, ">") {
		t.Errorf("Maintainer %q is not \"Name <address>\"", m)
	}
	// The postinst runs systemd-sysusers.
	if !strings.Contains(f["Depends"], "systemd-sysusers") {
		t.Errorf("Depends %q does not provide systemd-sysusers", f["Depends"])
	}
	desc := strings.Split(f["Description"], "\n")
	if len(desc) < 3 || desc[0] == "" {
		t.Errorf("Description has no synopsis and long text: %q", f["Description"])
	}
	for _, l := range desc {
		if len(l) > 80 {
			t.Errorf("Description line longer than 80 columns: %q", l)
		}
	}
	if _, err := strconv.Atoi(f["Installed-Size"]); err != nil {
		t.Errorf("Installed-Size %q: %v", f["Installed-Size"], err)
	}
	if dpkg, err := exec.LookPath("dpkg"); err == nil {
		if out, err := exec.Command(dpkg, "--validate-version", f["Version"]).CombinedOutput(); err != nil {
			t.Errorf("dpkg --validate-version %q: %v %s", f["Version"], err, out)
		}
	}
}

func checkContents(t *testing.T, dpkgDeb, deb, root string) {
	got := map[string]string{}
	var size, dirs int64
	// tar lists dates in the local zone.
	cmd := exec.Command(dpkgDeb, "--contents", deb)
	cmd.Env = append(os.Environ(), "TZ=UTC")
	list, err := cmd.Output()
	if err != nil {
		t.Fatalf("dpkg-deb --contents: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		// drwxr-xr-x root/root         0 2025-11-27 00:00 ./etc/
		w := strings.Fields(line)
		if len(w) != 6 {
			t.Errorf("dpkg-deb --contents line %q", line)
			continue
		}
		mode, owner, path := w[0], w[1], w[5]
		if owner != "root/root" {
			t.Errorf("%s owned by %s, want root/root", path, owner)
		}
		got[path] = mode
		if strings.HasPrefix(mode, "d") {
			dirs++
		} else {
			n, _ := strconv.ParseInt(w[2], 10, 64)
			size += n
		}
		// dpkg-deb clamps dates to SOURCE_DATE_EPOCH: the commit's.
		if ts := w[3] + " " + w[4]; ts != time.Unix(testEpoch, 0).UTC().Format("2006-01-02 15:04") {
			t.Errorf("%s dated %s, want the commit time", path, ts)
		}
	}
	for p, mode := range wantContents {
		if got[p] != mode {
			t.Errorf("%s: mode %q, want %q", p, got[p], mode)
		}
	}
	for p := range got {
		if _, ok := wantContents[p]; !ok {
			t.Errorf("unexpected %s in the package", p)
		}
	}
	// As dpkg-gencontrol counts: file bytes plus 1 KiB per directory.
	f := fields(t, string(run(t, dpkgDeb, "--field", deb)))
	if want := (size + 1024*dirs + 1023) / 1024; f["Installed-Size"] != strconv.FormatInt(want, 10) {
		t.Errorf("Installed-Size %s, contents add up to %d KiB", f["Installed-Size"], want)
	}
}

func checkMaintainerFiles(t *testing.T, root, control string) {
	conffiles, err := os.ReadFile(filepath.Join(control, "conffiles"))
	if err != nil {
		t.Fatal(err)
	}
	if string(conffiles) != "/etc/rackwatch/edge.yaml\n" {
		t.Errorf("conffiles %q", conffiles)
	}
	sameFile(t, filepath.Join(root, "etc/rackwatch/edge.yaml"), filepath.Join(repoRoot, "deploy/config/edge.yaml"))
	sameFile(t, filepath.Join(root, "usr/lib/sysusers.d/rackwatch-edge.conf"), "rackwatch-edge.sysusers")

	// md5sums covers every file but the conffile, whose hash dpkg keeps.
	sums, err := os.ReadFile(filepath.Join(control, "md5sums"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		sum, path, ok := strings.Cut(line, "  ")
		if !ok {
			t.Errorf("md5sums line %q", line)
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			t.Errorf("md5sums: %v", err)
			continue
		}
		if fmt.Sprintf("%x", md5.Sum(b)) != sum {
			t.Errorf("md5sums: %s does not match", path)
		}
		listed["./"+path] = true
	}
	for p, mode := range wantContents {
		if mode[0] == '-' && p != "./etc/rackwatch/edge.yaml" && !listed[p] {
			t.Errorf("md5sums lacks %s", p)
		}
	}

	for _, s := range []string{"postinst", "prerm", "postrm"} {
		p := filepath.Join(control, s)
		sameFile(t, p, "rackwatch-edge."+s)
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o755 {
			t.Errorf("%s mode %v, want 0755", s, st.Mode().Perm())
		}
		if out, err := exec.Command("sh", "-n", p).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", s, err, out)
		}
	}
}

func sameFile(t *testing.T, got, want string) {
	t.Helper()
	g, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g, w) {
		t.Errorf("%s differs from %s", got, want)
	}
}

func checkBinary(t *testing.T, path, arch string, machine elf.Machine, class elf.Class, goarch, goarm string) {
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != machine || f.Class != class {
		t.Errorf("ELF %v %v, want %v %v", f.Machine, f.Class, machine, class)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("dynamically linked: the package declares no C library")
		}
	}
	// -ldflags '-s -w'.
	for _, s := range []string{".symtab", ".debug_info", ".zdebug_info"} {
		if f.Section(s) != nil {
			t.Errorf("not stripped: has %s", s)
		}
	}
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	for k, want := range map[string]string{
		"GOOS": "linux", "GOARCH": goarch, "GOARM": goarm,
		"CGO_ENABLED": "0", "-trimpath": "true", "-tags": "gosnmp_nodebug",
	} {
		if settings[k] != want {
			t.Errorf("built with %s=%q, want %q", k, settings[k], want)
		}
	}
	if runtime.GOOS == "linux" && runtime.GOARCH == goarch {
		out, err := exec.Command(path, "version").CombinedOutput()
		if err != nil || string(out) != "rackwatch-edge "+testDescribe+"\n" {
			t.Errorf("rackwatch-edge version: %v %q", err, out)
		}
		// With the secret files it names, as a provisioned host has them.
		conf := testrig.ShippedConfig(t, filepath.Join(filepath.Dir(path), "../../etc/rackwatch/edge.yaml"))
		if out, err := exec.Command(path, "check-config", conf).CombinedOutput(); err != nil {
			t.Errorf("rackwatch-edge check-config on the conffile: %v\n%s", err, out)
		}
	}
}

// checkUnit requires the shipped unit with only ExecStart moved to the
// packaged binary, and verifies it with systemd-analyze.
func checkUnit(t *testing.T, root string) {
	packaged := filepath.Join(root, "lib/systemd/system/rackwatch-edge.service")
	p, err := os.ReadFile(packaged)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.ReadFile(filepath.Join(repoRoot, "deploy/systemd/rackwatch-edge.service"))
	if err != nil {
		t.Fatal(err)
	}
	pl, sl := strings.Split(string(p), "\n"), strings.Split(string(s), "\n")
	if len(pl) != len(sl) {
		t.Fatalf("packaged unit has %d lines, shipped %d", len(pl), len(sl))
	}
	changed := 0
	for i := range pl {
		if pl[i] == sl[i] {
			continue
		}
		changed++
		if !strings.HasPrefix(sl[i], "ExecStart=/usr/local/bin/rackwatch-edge ") ||
			pl[i] != strings.Replace(sl[i], "/usr/local/bin/", "/usr/bin/", 1) {
			t.Errorf("line %d: packaged %q, shipped %q", i+1, pl[i], sl[i])
		}
	}
	if changed != 1 {
		t.Errorf("%d lines differ from the shipped unit, want ExecStart only", changed)
	}

	analyze := testrig.Require(t, "systemd-analyze", "systemd")
	// verify checks that ExecStart exists: point it at the extracted binary
	// (the contents check has it at /usr/bin).
	dir := t.TempDir()
	unit := filepath.Join(dir, "rackwatch-edge.service")
	text := strings.Replace(string(p), "ExecStart=/usr/bin/rackwatch-edge ", "ExecStart="+filepath.Join(root, "usr/bin/rackwatch-edge")+" ", 1)
	if err := os.WriteFile(unit, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", unit).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func checkDocs(t *testing.T, root string) {
	doc := filepath.Join(root, "usr/share/doc/rackwatch-edge")
	c, err := os.ReadFile(filepath.Join(doc, "copyright"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(c, []byte("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n")) {
		t.Error("copyright is not in the machine-readable format")
	}
	license, err := os.ReadFile(filepath.Join(repoRoot, "LICENSE"))
	if err != nil {
		t.Fatal(err)
	}
	// The whole text, each line indented as a continuation line.
	missing := 0
	for _, l := range strings.Split(string(license), "\n") {
		if l = strings.TrimRight(l, " \t"); l != "" && !bytes.Contains(c, []byte("\n "+l+"\n")) {
			missing++
		}
	}
	if missing > 0 || !bytes.Contains(c, []byte("\nLicense: Apache-2.0\n  ")) {
		t.Errorf("copyright lacks %d lines of LICENSE or its License: Apache-2.0 paragraph", missing)
	}
	// The static binary carries the licenses of everything linked into it.
	bi, err := buildinfo.ReadFile(filepath.Join(root, "usr/bin/rackwatch-edge"))
	if err != nil {
		t.Fatal(err)
	}
	paragraphs := []string{"\n\nFiles: go/*\n"}
	for _, d := range bi.Deps {
		paragraphs = append(paragraphs, "\n\nFiles: "+d.Path+"/*\n")
	}
	for _, p := range paragraphs {
		if !bytes.Contains(c, []byte(p)) {
			t.Errorf("copyright has no paragraph %q", strings.TrimSpace(p))
		}
	}
	f, err := os.Open(filepath.Join(doc, "changelog.Debian.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	// gzip -n: no name or date in the header, or the package changes with
	// the time it was built.
	if z.Name != "" || !z.ModTime.IsZero() {
		t.Errorf("changelog.Debian.gz header has name %q, time %v", z.Name, z.ModTime)
	}
	log, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	first := "rackwatch-edge (" + testVersion + ") unstable; urgency=medium\n"
	if !strings.HasPrefix(string(log), first) {
		t.Errorf("changelog starts %q, want %q", log, first)
	}
	if !strings.Contains(string(log), "  Thu, 27 Nov 2025 00:00:00 +0000\n") {
		t.Errorf("changelog is not dated at the commit: %q", log)
	}
}

// testInstall installs the package into throwaway roots with dpkg --root.
// --force-script-chrootless runs the maintainer scripts on this host with
// DPKG_ROOT set, as a chroot would need a whole Debian system in the root:
// they must confine themselves to it, which the checks here depend on.
func testInstall(t *testing.T, deb string) {
	dpkg := testrig.Require(t, "dpkg", "dpkg")
	testrig.Require(t, "systemd-sysusers", "systemd")
	testrig.Require(t, "deb-systemd-helper", "init-system-helpers")
	if os.Geteuid() != 0 {
		testrig.Missing(t, "dpkg --root sets the owners of installed files, which takes root")
	}
	for _, tc := range []struct {
		name string
		// group is the root's /etc/group before the installation.
		group string
		// noHelper leaves deb-systemd-helper and deb-systemd-invoke off PATH.
		noHelper bool
		// statOverride is an administrator's dpkg-statoverride for the
		// conffile: "owner group mode".
		statOverride string
		// collector leaves the collector's state in /var/lib/rackwatch.
		collector bool
	}{
		{name: "fresh host"},
		{name: "board with i2c group and a collector", group: "i2c:x:77:pi\n", collector: true},
		{name: "no init-system-helpers", noHelper: true},
		{name: "statoverride", statOverride: "root root 0600"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := t.TempDir()
			for _, d := range []string{"etc", "var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"} {
				if err := os.MkdirAll(filepath.Join(r, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range []string{"var/lib/dpkg/status", "var/lib/dpkg/available"} {
				if err := os.WriteFile(filepath.Join(r, f), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.group != "" {
				if err := os.WriteFile(filepath.Join(r, "etc/group"), []byte(tc.group), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			env := os.Environ()
			if tc.noHelper {
				env = append(env, "PATH="+pathWithout(t, "deb-systemd-helper", "deb-systemd-invoke"))
			}
			dpkgIn := func(args ...string) {
				t.Helper()
				// The root has no systemd package to satisfy Depends; the
				// host's systemd-sysusers serves.
				args = append([]string{"--root=" + r, "--force-script-chrootless", "--force-depends", "--log=/dev/null"}, args...)
				cmd := exec.Command(dpkg, args...)
				cmd.Env = env
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("dpkg %s: %v\n%s", strings.Join(args, " "), err, out)
				}
			}
			if tc.statOverride != "" {
				w := strings.Fields(tc.statOverride)
				statoverride := testrig.Require(t, "dpkg-statoverride", "dpkg")
				out, err := exec.Command(statoverride, "--root="+r, "--add", w[0], w[1], w[2], "/etc/rackwatch/edge.yaml").CombinedOutput()
				if err != nil {
					t.Fatalf("dpkg-statoverride: %v\n%s", err, out)
				}
			}

			dpkgIn("--install", deb)
			uid, gid := checkUser(t, r, tc.group != "")
			conf := filepath.Join(r, "etc/rackwatch/edge.yaml")
			if tc.statOverride == "" {
				checkOwner(t, conf, 0o640, 0, gid)
			} else {
				checkOwner(t, conf, 0o600, 0, 0)
			}
			state := filepath.Join(r, "var/lib/rackwatch")
			checkOwner(t, state, os.ModeDir|0o750, uid, gid)
			wants := filepath.Join(r, "etc/systemd/system/multi-user.target.wants/rackwatch-edge.service")
			if target, err := os.Readlink(wants); tc.noHelper {
				if err == nil {
					t.Errorf("%s exists without deb-systemd-helper", wants)
				}
			} else if target != "/lib/systemd/system/rackwatch-edge.service" {
				t.Errorf("unit not enabled: %s -> %q (%v)", wants, target, err)
			}

			// An administrator's edit survives an upgrade, which runs the
			// postinst again with the old version.
			edited := []byte("# site1, rack1\n")
			if err := os.WriteFile(conf, edited, 0o640); err != nil {
				t.Fatal(err)
			}
			edgeState := []string{"spool/00000001.seg", "sample-seq.json", "commands.json", ".seq-123"}
			for _, f := range edgeState {
				p := filepath.Join(state, f)
				if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("x"), 0o640); err != nil {
					t.Fatal(err)
				}
			}
			if tc.collector {
				if err := os.WriteFile(filepath.Join(state, "collector-state.json"), []byte("{}"), 0o640); err != nil {
					t.Fatal(err)
				}
			}
			dpkgIn("--install", deb)
			if b, err := os.ReadFile(conf); err != nil || !bytes.Equal(b, edited) {
				t.Errorf("upgrade replaced the edited conffile: %q %v", b, err)
			}
			if tc.statOverride == "" {
				checkOwner(t, conf, 0o640, 0, gid)
			}
			if uid2, gid2 := checkUser(t, r, tc.group != ""); uid2 != uid || gid2 != gid {
				t.Errorf("upgrade changed rackwatch from %d:%d to %d:%d", uid, gid, uid2, gid2)
			}

			dpkgIn("--remove", "rackwatch-edge")
			for _, f := range edgeState {
				if _, err := os.Stat(filepath.Join(state, f)); err != nil {
					t.Errorf("remove (not purge) deleted the state: %v", err)
				}
			}
			if _, err := os.Stat(conf); err != nil {
				t.Errorf("remove (not purge) deleted the conffile: %v", err)
			}
			if _, err := os.Stat(filepath.Join(r, "usr/bin/rackwatch-edge")); err == nil {
				t.Error("remove left the binary")
			}

			dpkgIn("--purge", "rackwatch-edge")
			left, _ := filepath.Glob(filepath.Join(state, "*"))
			hidden, _ := filepath.Glob(filepath.Join(state, ".*"))
			left = append(left, hidden...)
			if tc.collector {
				if len(left) != 1 || filepath.Base(left[0]) != "collector-state.json" {
					t.Errorf("purge left %v in the state directory, want the collector's file only", left)
				}
			} else if _, err := os.Stat(state); err == nil {
				t.Errorf("purge left the state directory with %v", left)
			}
			for _, p := range []string{conf, wants} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("purge left %s", p)
				}
			}
			// The user stays: files may belong to it and the collector
			// runs as it.
			checkUser(t, r, tc.group != "")
		})
	}
}

// checkUser checks the rackwatch user and groups in the root and returns
// its ids.
func checkUser(t *testing.T, root string, hadI2C bool) (uid, gid int) {
	t.Helper()
	passwd := readDB(t, filepath.Join(root, "etc/passwd"))
	group := readDB(t, filepath.Join(root, "etc/group"))
	u, ok := passwd["rackwatch"]
	if !ok {
		t.Fatal("no rackwatch in /etc/passwd")
	}
	uid, _ = strconv.Atoi(u[2])
	gid, _ = strconv.Atoi(u[3])
	// A system account: below Debian's first regular UID, no login shell,
	// the state directory as home.
	if uid <= 0 || uid >= 1000 || u[5] != "/var/lib/rackwatch" || u[6] != "/usr/sbin/nologin" {
		t.Errorf("rackwatch passwd entry %v", u)
	}
	g, ok := group["rackwatch"]
	if !ok || g[2] != strconv.Itoa(gid) {
		t.Errorf("rackwatch's primary group %d: /etc/group has %v", gid, g)
	}
	i2c, ok := group["i2c"]
	if !ok {
		t.Fatal("no i2c group: the unit's SupplementaryGroups=i2c would fail its start")
	}
	members := strings.Split(i2c[3], ",")
	if !contains(members, "rackwatch") {
		t.Errorf("rackwatch not in group i2c: %v", i2c)
	}
	if hadI2C && (i2c[2] != "77" || !contains(members, "pi")) {
		t.Errorf("the existing i2c group changed: %v", i2c)
	}
	return uid, gid
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func readDB(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	db := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(line, ":")
		db[f[0]] = f
	}
	return db
}

func checkOwner(t *testing.T, path string, mode os.FileMode, uid, gid int) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	sys := st.Sys().(*syscall.Stat_t)
	if st.Mode() != mode || int(sys.Uid) != uid || int(sys.Gid) != gid {
		t.Errorf("%s: %v %d:%d, want %v %d:%d", path, st.Mode(), sys.Uid, sys.Gid, mode, uid, gid)
	}
}

// pathWithout returns a PATH of one directory that links every command on
// the current PATH except the named ones.
func pathWithout(t *testing.T, omit ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range filepath.SplitList(os.Getenv("PATH") + ":/usr/sbin:/sbin") {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if contains(omit, e.Name()) {
				continue
			}
			// The first directory on PATH wins, as in a lookup.
			_ = os.Symlink(filepath.Join(d, e.Name()), filepath.Join(dir, e.Name()))
		}
	}
	return dir
}
