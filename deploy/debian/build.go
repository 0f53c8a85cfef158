package debian

import (
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	pkgName  = "rackwatch-edge"
	homepage = "https://github.com/rackwatch/rackwatch"
	// The package's Depends: the postinst creates the user with
	// systemd-sysusers, which systemd ships and minimal systems and
	// containers get from systemd-standalone-sysusers (the list
	// dh_installsysusers uses).
	depends = "systemd | systemd-standalone-sysusers | systemd-sysusers"

	// The shipped unit starts the binary where a manual installation puts
	// it; the package installs it in /usr/bin.
	unitExecManual  = "ExecStart=/usr/local/bin/rackwatch-edge "
	unitExecPackage = "ExecStart=/usr/bin/rackwatch-edge "

	synopsis    = "rackwatch edge agent: rack sensors and SNMP to MQTT"
	description = ` rackwatch keeps racks of API servers cool by taking hot, slow nodes out of
 the load balancer and putting them back once they have cooled.
 .
 The edge agent runs on each rack controller: it reads I2C temperature,
 humidity, power and fan sensors, polls switches and BMCs over SNMP,
 receives their traps, and publishes the samples as Sparkplug B over MQTT,
 spooled on disk while the broker or the collector is away. In host mode on
 an API node it reports CPU throttling and NIC errors and answers HAProxy
 agent checks.
 .
 The service runs as the rackwatch user. Edit /etc/rackwatch/edge.yaml,
 create the secret files it names (mode 0600, owner rackwatch), check it
 with "rackwatch-edge check-config", and restart the service.`
)

// machines is the ELF machine of the edge binary for each Debian
// architecture it is packaged for.
var machines = map[string]elf.Machine{
	"amd64": elf.EM_X86_64,
	"arm64": elf.EM_AARCH64,
	"armhf": elf.EM_ARM,
}

// maintainerRE is the Maintainer field's form: a name and an address.
var maintainerRE = regexp.MustCompile(`^[^<>\n]+ <[^<>@\s]+@[^<>@\s]+>$`)

// Opts describes one package to build.
type Opts struct {
	// Root is the repository: LICENSE and deploy/ are read from it.
	Root string
	// Binary is rackwatch-edge built for Arch.
	Binary string
	// Arch is the Debian architecture: amd64, arm64 or armhf.
	Arch string
	// Version is the Debian version (see Version).
	Version string
	// Describe is the git describe output the changelog records.
	Describe string
	// Time is the commit time: the changelog's date and every file's
	// mtime, so that one commit always gives the same package.
	Time time.Time
	// Maintainer is "Name <address>".
	Maintainer string
	// OutDir receives rackwatch-edge_<version>_<arch>.deb.
	OutDir string
	// ModCache and GOROOT (go env GOMODCACHE, GOROOT) hold the source of
	// the modules and the standard library linked into Binary, whose
	// license texts the copyright file carries.
	ModCache, GOROOT string
	// DpkgDeb is the dpkg-deb to run; the one on PATH when empty.
	DpkgDeb string
}

// file is one entry of the package's data or control tree.
type file struct {
	path string // relative to the tree's root
	mode fs.FileMode
	data []byte
}

// Build stages the package tree for opts and archives it with dpkg-deb. It
// returns the path of the .deb.
func Build(opts Opts) (string, error) {
	machine, ok := machines[opts.Arch]
	if !ok {
		return "", fmt.Errorf("debian: architecture %q: want amd64, arm64 or armhf", opts.Arch)
	}
	if err := ValidateVersion(opts.Version); err != nil {
		return "", err
	}
	if !maintainerRE.MatchString(opts.Maintainer) {
		return "", fmt.Errorf("debian: maintainer %q: want \"Name <address>\"", opts.Maintainer)
	}
	if opts.Time.IsZero() {
		return "", fmt.Errorf("debian: no commit time for the changelog and file dates")
	}
	bin, err := readBinary(opts.Binary, machine)
	if err != nil {
		return "", err
	}
	read := func(rel string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(opts.Root, rel))
		if err != nil {
			return nil, fmt.Errorf("debian: %w", err)
		}
		return b, nil
	}
	unitPath := filepath.Join("deploy", "systemd", pkgName+".service")
	unit, err := read(unitPath)
	if err != nil {
		return "", err
	}
	if unit, err = PackageUnit(unit); err != nil {
		return "", fmt.Errorf("debian: %s: %w", unitPath, err)
	}
	conf, err := read(filepath.Join("deploy", "config", "edge.yaml"))
	if err != nil {
		return "", err
	}
	sysusers, err := read(filepath.Join("deploy", "debian", pkgName+".sysusers"))
	if err != nil {
		return "", err
	}
	license, err := read("LICENSE")
	if err != nil {
		return "", err
	}
	changelog, err := gzipped(changelog(opts))
	if err != nil {
		return "", err
	}
	code, err := linkedCode(bin, opts.Root, opts.ModCache, opts.GOROOT)
	if err != nil {
		return "", fmt.Errorf("debian: %s: %w", opts.Binary, err)
	}
	third, err := notices(code)
	if err != nil {
		return "", err
	}
	doc := "usr/share/doc/" + pkgName + "/"
	data := []file{
		{"usr/bin/rackwatch-edge", 0o755, bin},
		{"lib/systemd/system/" + pkgName + ".service", 0o644, unit},
		{"usr/lib/sysusers.d/" + pkgName + ".conf", 0o644, sysusers},
		// 0640 from the start: the postinst gives it to the rackwatch group,
		// and an upgrade that replaces it never leaves it world-readable.
		{"etc/rackwatch/edge.yaml", 0o640, conf},
		{doc + "copyright", 0o644, copyright(opts.Maintainer, license, third)},
		{doc + "changelog.Debian.gz", 0o644, changelog},
	}
	conffiles := []string{"/etc/rackwatch/edge.yaml"}

	control := []file{
		{"conffiles", 0o644, []byte(strings.Join(conffiles, "\n") + "\n")},
		{"md5sums", 0o644, md5sums(data, conffiles)},
	}
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		b, err := read(filepath.Join("deploy", "debian", pkgName+"."+s))
		if err != nil {
			return "", err
		}
		control = append(control, file{s, 0o755, b})
	}
	control = append(control, file{"control", 0o644, controlFile(opts, installedSize(data))})

	stage, err := os.MkdirTemp("", "rackwatch-deb-")
	if err != nil {
		return "", fmt.Errorf("debian: %w", err)
	}
	defer os.RemoveAll(stage)
	if err := writeTree(stage, data, opts.Time); err != nil {
		return "", err
	}
	if err := writeTree(filepath.Join(stage, "DEBIAN"), control, opts.Time); err != nil {
		return "", err
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return "", fmt.Errorf("debian: %w", err)
	}
	// The file name leaves out an epoch, as Debian's archive does.
	fileVersion := opts.Version
	if i := strings.IndexByte(fileVersion, ':'); i >= 0 {
		fileVersion = fileVersion[i+1:]
	}
	out := filepath.Join(opts.OutDir, fmt.Sprintf("%s_%s_%s.deb", pkgName, fileVersion, opts.Arch))
	dpkgDeb := opts.DpkgDeb
	if dpkgDeb == "" {
		dpkgDeb = "dpkg-deb"
	}
	cmd := exec.Command(dpkgDeb, "--build", "--root-owner-group", stage, out)
	// dpkg-deb dates the archive members with it.
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+strconv.FormatInt(opts.Time.Unix(), 10))
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("debian: %s --build %s: %w\n%s", dpkgDeb, out, err, b)
	}
	return out, nil
}

// readBinary reads the edge binary and checks that it runs on the
// package's architecture. It must be static: the package declares no
// dependency on a C library.
func readBinary(path string, machine elf.Machine) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("debian: %w", err)
	}
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("debian: %s: %w", path, err)
	}
	defer f.Close()
	if f.Machine != machine {
		return nil, fmt.Errorf("debian: %s: ELF machine %v, want %v", path, f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("debian: %s: dynamically linked; build it with CGO_ENABLED=0", path)
		}
	}
	return b, nil
}

// PackageUnit returns the shipped unit with ExecStart pointing at
// /usr/bin, and fails if the shipped unit no longer starts the binary from
// /usr/local/bin exactly once.
func PackageUnit(shipped []byte) ([]byte, error) {
	if n := bytes.Count(shipped, []byte(unitExecManual)); n != 1 {
		return nil, fmt.Errorf("%q occurs %d times, want once", unitExecManual, n)
	}
	out := bytes.Replace(shipped, []byte(unitExecManual), []byte(unitExecPackage), 1)
	if bytes.Contains(out, []byte("/usr/local/")) {
		return nil, fmt.Errorf("refers to /usr/local beyond ExecStart, which the package does not install")
	}
	return out, nil
}

// controlFile writes DEBIAN/control; deb-control(5) lists the fields.
func controlFile(opts Opts, installedKiB int64) []byte {
	var b strings.Builder
	for _, f := range [][2]string{
		{"Package", pkgName},
		{"Version", opts.Version},
		{"Architecture", opts.Arch},
		{"Maintainer", opts.Maintainer},
		{"Installed-Size", strconv.FormatInt(installedKiB, 10)},
		{"Depends", depends},
		{"Section", "net"},
		{"Priority", "optional"},
		{"Homepage", homepage},
		{"Description", synopsis + "\n" + description},
	} {
		fmt.Fprintf(&b, "%s: %s\n", f[0], f[1])
	}
	return []byte(b.String())
}

// installedSize is the Installed-Size in KiB as dpkg-gencontrol counts it:
// the bytes of the files, 1 KiB per directory, rounded up once at the end.
func installedSize(data []file) int64 {
	var bytes int64
	for _, f := range data {
		bytes += int64(len(f.data))
	}
	bytes += 1024 * int64(len(dirs(data)))
	return (bytes + 1023) / 1024
}

// dirs lists the directories that hold data, the root included.
func dirs(data []file) []string {
	seen := map[string]bool{".": true}
	for _, f := range data {
		for d := filepath.Dir(f.path); d != "."; d = filepath.Dir(d) {
			seen[d] = true
		}
	}
	out := make([]string, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// md5sums lists the files dpkg --verify checks. Conffiles are left out, as
// dh_md5sums does: dpkg records their hashes itself.
func md5sums(data []file, conffiles []string) []byte {
	skip := map[string]bool{}
	for _, c := range conffiles {
		skip[strings.TrimPrefix(c, "/")] = true
	}
	var b strings.Builder
	for _, f := range data {
		if !skip[f.path] {
			fmt.Fprintf(&b, "%x  %s\n", md5.Sum(f.data), f.path)
		}
	}
	return []byte(b.String())
}

// copyright is /usr/share/doc/<package>/copyright in the machine-readable
// format (https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/):
// rackwatch's license, then the paragraphs of the code linked into the
// static binary.
func copyright(maintainer string, license, linked []byte) []byte {
	var b strings.Builder
	b.WriteString("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n")
	b.WriteString("Upstream-Name: rackwatch\n")
	b.WriteString("Upstream-Contact: " + maintainer + "\n")
	b.WriteString("Source: " + homepage + "\n")
	b.WriteString("Comment: rackwatch-edge is a static Go binary. The Files paragraphs after\n")
	b.WriteString(" the first name the Go modules and the standard library it contains.\n\n")
	b.WriteString("Files: *\nCopyright: the rackwatch authors\nLicense: Apache-2.0\n")
	b.Write(linked)
	b.WriteString("\nLicense: Apache-2.0\n")
	b.WriteString(continuation(license))
	return []byte(b.String())
}

// changelog is the one entry of changelog.Debian: the package is built
// from the repository, whose history is git's.
func changelog(opts Opts) []byte {
	from := "Built from git " + opts.Describe + "."
	if opts.Describe == "" {
		from = "Built from a source tree outside git."
	}
	return []byte(fmt.Sprintf("%s (%s) unstable; urgency=medium\n\n  * %s\n\n -- %s  %s\n",
		pkgName, opts.Version, from, opts.Maintainer, opts.Time.UTC().Format(time.RFC1123Z)))
}

// gzipped compresses b without a name or a date in the header, as gzip -n
// does, so that the package is reproducible.
func gzipped(b []byte) ([]byte, error) {
	var out bytes.Buffer
	w, err := gzip.NewWriterLevel(&out, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("debian: %w", err)
	}
	if _, err := w.Write(b); err != nil {
		return nil, fmt.Errorf("debian: gzip changelog: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("debian: gzip changelog: %w", err)
	}
	return out.Bytes(), nil
}

// writeTree writes files under root with exactly their modes, whatever the
// umask, and dates every entry mtime.
func writeTree(root string, files []file, mtime time.Time) error {
	for _, d := range dirs(files) {
		p := filepath.Join(root, d)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return fmt.Errorf("debian: %w", err)
		}
		if err := os.Chmod(p, 0o755); err != nil {
			return fmt.Errorf("debian: %w", err)
		}
	}
	for _, f := range files {
		p := filepath.Join(root, f.path)
		if err := os.WriteFile(p, f.data, f.mode); err != nil {
			return fmt.Errorf("debian: %w", err)
		}
		if err := os.Chmod(p, f.mode); err != nil {
			return fmt.Errorf("debian: %w", err)
		}
	}
	// Directories last: writing their files changed their mtimes.
	for _, f := range files {
		if err := os.Chtimes(filepath.Join(root, f.path), mtime, mtime); err != nil {
			return fmt.Errorf("debian: %w", err)
		}
	}
	for _, d := range dirs(files) {
		if err := os.Chtimes(filepath.Join(root, d), mtime, mtime); err != nil {
			return fmt.Errorf("debian: %w", err)
		}
	}
	return nil
}
