// Package configfile loads rackwatch's YAML configuration files strictly:
// unknown keys are errors, the file must declare a format version, and every
// error names the file, the line and the key, so an operator can fix a typo
// on a controller without guessing.
//
// Both binaries load their configuration through it; each binary's own
// config package defines the schema and the validation.
package configfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// File is a parsed configuration file; its positions let validation errors
// name the line of a key.
type File struct {
	Path  string
	lines map[string]int // key path → line
	keys  map[int]string // line → key path

	warnings []string
}

// Error is one problem in a configuration file.
type Error struct {
	Path string
	Line int
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Load reads path and decodes it into v; see Decode.
func Load(path string, versions []int, v any) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("configfile: %w", err)
	}
	return Decode(path, data, versions, v)
}

// Decode decodes data, named path in errors, into v. The document must be a
// mapping with a top-level "version" key whose value is one of versions; v
// must have a matching `yaml:"version"` field. Every problem is reported,
// joined with errors.Join, each as an *Error.
func Decode(path string, data []byte, versions []int, v any) (*File, error) {
	f := &File{Path: path, lines: map[string]int{}, keys: map[int]string{}}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, f.yamlError(err)
	}
	if len(root.Content) == 0 || isEmptyDoc(root.Content[0]) {
		return nil, &Error{Path: path, Msg: "empty configuration"}
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		return nil, &Error{Path: path, Line: doc.Line, Msg: "the configuration must be a mapping of keys"}
	}
	f.index(doc, "")
	if err := f.checkVersion(doc, versions); err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return nil, f.yamlError(err)
	}
	return f, nil
}

// isEmptyDoc reports a document marker with nothing under it ("---"):
// yaml.v3 reads it as a null placed on the line after the marker, which
// the file may not have.
func isEmptyDoc(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null" && n.Value == ""
}

func (f *File) checkVersion(doc *yaml.Node, versions []int) error {
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value != "version" {
			continue
		}
		n := doc.Content[i+1]
		got, err := strconv.Atoi(n.Value)
		if err == nil {
			for _, want := range versions {
				if got == want {
					return nil
				}
			}
		}
		return &Error{Path: f.Path, Line: n.Line, Key: "version",
			Msg: fmt.Sprintf("unsupported format version %q (this binary reads %v)", n.Value, versions)}
	}
	return &Error{Path: f.Path, Line: doc.Line, Key: "version",
		Msg: fmt.Sprintf("missing format version: add `version: %d` at the top", versions[len(versions)-1])}
}

// index records the line of every key path, e.g. "snmp.targets[1].address".
func (f *File) index(n *yaml.Node, prefix string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			p := k.Value
			if prefix != "" {
				p = prefix + "." + k.Value
			}
			f.lines[p] = k.Line
			if _, ok := f.keys[k.Line]; !ok {
				f.keys[k.Line] = p
			}
			f.index(n.Content[i+1], p)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", prefix, i)
			f.lines[p] = c.Line
			f.index(c, p)
		}
	}
}

// Line returns the line of a key path, or 0 when the key is absent.
func (f *File) Line(key string) int { return f.lines[key] }

// Errorf returns an *Error for key, located at the key's line or, for a
// missing key, at the line of its closest present parent.
func (f *File) Errorf(key, format string, args ...any) error {
	line := 0
	for k := key; k != ""; k = parent(k) {
		if l, ok := f.lines[k]; ok {
			line = l
			break
		}
	}
	return &Error{Path: f.Path, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

func parent(key string) string {
	i := strings.LastIndexAny(key, ".[")
	if i < 0 {
		return ""
	}
	return key[:i]
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
var unknownField = regexp.MustCompile(`^field (\S+) not found in type \S+$`)

// yamlError rewrites yaml.v3's messages ("line 4: field foo not found in
// type config.SNMP") as file:line: key: message.
func (f *File) yamlError(err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var errs []error
	for _, m := range msgs {
		e := &Error{Path: f.Path, Msg: strings.TrimPrefix(m, "yaml: ")}
		if sm := yamlLine.FindStringSubmatch(strings.TrimSpace(m)); sm != nil {
			e.Line, _ = strconv.Atoi(sm[1])
			e.Msg = sm[2]
			e.Key = f.keys[e.Line]
			if um := unknownField.FindStringSubmatch(e.Msg); um != nil {
				e.Msg = fmt.Sprintf("unknown key %q", um[1])
			}
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// Errors collects validation problems.
type Errors struct{ list []error }

// Add records err.
func (e *Errors) Add(err error) { e.list = append(e.list, err) }

// Err returns all recorded problems joined, or nil.
func (e *Errors) Err() error { return errors.Join(e.list...) }

// Secret is a configuration string that never appears in logs or in
// check-config output.
type Secret string

// String redacts the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "<secret>"
}

// MarshalYAML redacts the secret when a configuration is printed.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalJSON redacts the secret.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.String())), nil }

// MarshalText redacts the secret for encoders that prefer text, such as
// slog's text handler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue redacts the secret in slog records, whichever handler writes
// them.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// GoString redacts the secret for %#v, which would otherwise print the
// underlying string.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }
