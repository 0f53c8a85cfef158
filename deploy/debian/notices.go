package debian

import (
	"bytes"
	"debug/buildinfo"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

var (
	// noticeRE names the files whose text a binary distribution of a module
	// carries: its license, Apache NOTICE files, Go's PATENTS grant.
	noticeRE = regexp.MustCompile(`(?i)^(licen[cs]e|copying|notice|patents)([.-][a-z0-9.-]+)?$`)
	// holderRE picks the copyright statements out of those texts; it leaves
	// out the Apache License's template line "Copyright [yyyy] [name ...]".
	holderRE = regexp.MustCompile(`(?i)^copyright\s+(\(c\)|©|[0-9])`)
)

// linked is code the edge binary contains besides rackwatch's own.
type linked struct {
	name, version, dir, comment string
}

// linkedCode lists the Go standard library and every module the binary was
// built from, as its build information records them, with the directory
// that holds each one's source.
func linkedCode(bin []byte, root, modCache, goroot string) ([]linked, error) {
	bi, err := buildinfo.Read(bytes.NewReader(bin))
	if err != nil {
		return nil, fmt.Errorf("build information: %w", err)
	}
	out := []linked{{name: "go", version: bi.GoVersion, dir: goroot, comment: "The Go standard library and runtime, " + bi.GoVersion + "."}}
	for _, d := range bi.Deps {
		m := d
		if d.Replace != nil {
			m = d.Replace
		}
		var dir string
		switch {
		case strings.HasPrefix(m.Path, "./"), strings.HasPrefix(m.Path, "../"):
			dir = filepath.Join(root, m.Path)
		case filepath.IsAbs(m.Path):
			dir = m.Path
		default:
			dir = filepath.Join(modCache, escapeModule(m.Path)+"@"+escapeModule(m.Version))
		}
		out = append(out, linked{name: d.Path, version: m.Version, dir: dir, comment: "Go module " + d.Path + " " + m.Version + ", linked into the binary."})
	}
	return out, nil
}

// escapeModule spells a module path or version as the module cache does:
// an upper-case letter becomes ! and its lower case.
func escapeModule(s string) string {
	var b strings.Builder
	for _, r := range s {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// notices writes one copyright paragraph per body of linked code, with the
// full text of its license and notice files: the BSD and Apache licenses
// of most of them require that a binary distribution carries them.
func notices(code []linked) ([]byte, error) {
	var b strings.Builder
	for _, c := range code {
		entries, err := os.ReadDir(c.dir)
		if err != nil {
			return nil, fmt.Errorf("debian: license of %s %s: %w", c.name, c.version, err)
		}
		var texts [][]byte
		var holders []string
		seen := map[string]bool{}
		for _, e := range entries {
			if e.IsDir() || !noticeRE.MatchString(e.Name()) {
				continue
			}
			t, err := os.ReadFile(filepath.Join(c.dir, e.Name()))
			if err != nil {
				return nil, fmt.Errorf("debian: license of %s: %w", c.name, err)
			}
			texts = append(texts, t)
			for _, line := range strings.Split(string(t), "\n") {
				line = strings.TrimSpace(line)
				if holderRE.MatchString(line) && !seen[line] {
					seen[line] = true
					holders = append(holders, line)
				}
			}
		}
		if len(texts) == 0 {
			return nil, fmt.Errorf("debian: %s %s: no license file in %s", c.name, c.version, c.dir)
		}
		if len(holders) == 0 {
			holders = []string{"the " + c.name + " authors"}
		}
		sort.Strings(holders)
		fmt.Fprintf(&b, "\nFiles: %s/*\nCopyright: %s\n", c.name, strings.Join(holders, "\n "))
		fmt.Fprintf(&b, "Comment: %s\nLicense: other\n", c.comment)
		for i, t := range texts {
			if i > 0 {
				b.WriteString(" .\n")
			}
			b.WriteString(continuation(t))
		}
	}
	return []byte(b.String()), nil
}

// continuation indents text as the continuation lines of a field: each line
// starts with a space, and an empty line is " .".
func continuation(text []byte) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.Trim(string(text), "\n"), "\n") {
		line = strings.TrimRight(line, " \t\r")
		if line == "" {
			b.WriteString(" .\n")
			continue
		}
		b.WriteString(" " + line + "\n")
	}
	return b.String()
}
