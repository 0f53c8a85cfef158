package api

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/rackwatch/rackwatch/edge/configfile"
)

// MinTokenLen is the shortest token accepted: 16 characters, so a token
// from the documented generator (openssl rand -hex 32) always passes and a
// typed placeholder never does.
const MinTokenLen = 16

// nameRE is what a token name may be: it becomes the actor of audit records,
// so it must read cleanly in logs and JSON.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// Tokens maps a caller's name to its bearer token. It never prints, logs or
// encodes the tokens themselves, only the names.
type Tokens map[string]string

// Names returns the names, sorted.
func (t Tokens) Names() []string {
	names := make([]string, 0, len(t))
	for n := range t {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// String lists the names only.
func (t Tokens) String() string {
	return fmt.Sprintf("api tokens for [%s]", strings.Join(t.Names(), " "))
}

// Format prints String for every verb, so no format string can reveal a
// token.
func (t Tokens) Format(f fmt.State, _ rune) { io.WriteString(f, t.String()) }

// LogValue logs the names only.
func (t Tokens) LogValue() slog.Value { return slog.AnyValue(t.Names()) }

// MarshalJSON encodes the names only.
func (t Tokens) MarshalJSON() ([]byte, error) { return marshalIndent(t.Names()) }

// validate checks every name and token; errors name the caller, never the
// token.
func (t Tokens) validate() error {
	seen := make(map[string]string, len(t))
	for _, name := range t.Names() {
		tok := t[name]
		if err := checkEntry(name, tok); err != nil {
			return err
		}
		if other, dup := seen[tok]; dup {
			return fmt.Errorf("%q and %q have the same token; each caller needs its own", other, name)
		}
		seen[tok] = name
	}
	return nil
}

func checkEntry(name, tok string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("name %q: use 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", name)
	}
	if len(tok) < MinTokenLen {
		return fmt.Errorf("the token of %q is shorter than %d characters; generate one with: openssl rand -hex 32", name, MinTokenLen)
	}
	if strings.IndexFunc(tok, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0 {
		return fmt.Errorf("the token of %q contains spaces or control characters", name)
	}
	return nil
}

// identify returns the name of the caller presenting tok. Every token is
// compared, in constant time, as a SHA-256 digest: ConstantTimeCompare
// returns at once on a length mismatch, and digests have one length, so
// the answer's timing reveals neither a token, nor its length, nor which
// name came close.
func (t Tokens) identify(tok string) (string, bool) {
	var found string
	got := sha256.Sum256([]byte(tok))
	for name, want := range t {
		w := sha256.Sum256([]byte(want))
		if subtle.ConstantTimeCompare(got[:], w[:]) == 1 {
			found = name
		}
	}
	return found, found != ""
}

// maxTokenFile bounds what LoadTokens reads.
const maxTokenFile = 1 << 20

// LoadTokens reads a token file: one "name:token" per line; blank lines
// and lines starting with # are ignored. The file holds secrets, so it is
// rejected unless configfile.OpenSecretFile accepts it: mode 0600, or 0640
// with a dedicated group. Errors name the file and the line, never a token.
func LoadTokens(path string) (Tokens, error) {
	// OpenSecretFile checks the open file, not the path, so the mode
	// checked is the mode of what is read.
	f, err := configfile.OpenSecretFile(path)
	if err != nil {
		return nil, fmt.Errorf("api: token file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("api: token file %s: %w", path, err)
	}
	if fi.Size() > maxTokenFile {
		return nil, fmt.Errorf("api: token file %s is %d bytes; at most %d are read", path, fi.Size(), maxTokenFile)
	}
	t := Tokens{}
	sc := bufio.NewScanner(io.LimitReader(f, maxTokenFile))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, tok, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("api: token file %s line %d: want name:token", path, n)
		}
		name, tok = strings.TrimSpace(name), strings.TrimSpace(tok)
		if err := checkEntry(name, tok); err != nil {
			return nil, fmt.Errorf("api: token file %s line %d: %w", path, n, err)
		}
		if _, dup := t[name]; dup {
			return nil, fmt.Errorf("api: token file %s line %d: %q appears twice", path, n, name)
		}
		t[name] = tok
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("api: token file %s: a line is too long", path)
		}
		return nil, fmt.Errorf("api: token file %s: %w", path, err)
	}
	if len(t) == 0 {
		return nil, fmt.Errorf("api: token file %s holds no tokens", path)
	}
	if err := t.validate(); err != nil {
		return nil, fmt.Errorf("api: token file %s: %w", path, err)
	}
	return t, nil
}
