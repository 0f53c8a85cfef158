package configfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rackwatch/rackwatch/deploy/testrig"
)

func writeSecret(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	// Chmod, not the WriteFile mode, which the umask would narrow.
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSecretFileModes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode os.FileMode
		ok   bool
	}{
		{0o600, true},
		{0o400, false},
		{0o640, true}, // the test's own primary group is dedicated
		{0o440, false},
		{0o644, false},
		{0o604, false},
		{0o660, false},
		{0o620, false},
		{0o666, false},
		{0o700, false},
		{0o000, false},
	} {
		t.Run(fmt.Sprintf("%04o", tc.mode), func(t *testing.T) {
			t.Parallel()
			p := writeSecret(t, "hunter2hunter2\n", tc.mode)
			s, err := ReadSecretFile(p)
			if tc.mode == 0 && err != nil {
				return // unreadable unless root; refused either way
			}
			if tc.ok {
				if err != nil || s != "hunter2hunter2" {
					t.Fatalf("ReadSecretFile = %q, %v", s, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("mode %04o accepted", tc.mode)
			}
			for _, want := range []string{p, fmt.Sprintf("%04o", tc.mode), "chmod 600 " + p} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
			if !errors.Is(err, ErrSecretMode) {
				t.Errorf("error %v is not ErrSecretMode", err)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
}

func TestSecretFileGroupMustBeDedicated(t *testing.T) {
	t.Parallel()
	p := writeSecret(t, "x", 0o640)
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		dedicated bool
	}{{"dedicated", true}, {"shared", false}} {
		err := checkSecretInfo(p, fi, func(uint32) bool { return tc.dedicated })
		if (err == nil) != tc.dedicated {
			t.Errorf("%s group: err = %v", tc.name, err)
		}
		if err != nil && !strings.Contains(err.Error(), "chmod 600 "+p) {
			t.Errorf("%s group: error %q gives no fix", tc.name, err)
		}
	}
}

func TestSecretFileShapes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := writeSecret(t, "s3cret\r\n", 0o600)
	loose := writeSecret(t, "s3cret", 0o644)
	toLink := filepath.Join(dir, "link-to-loose")
	if err := os.Symlink(loose, toLink); err != nil {
		t.Fatal(err)
	}
	toGood := filepath.Join(dir, "link-to-good")
	if err := os.Symlink(good, toGood); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"crlf trimmed", good, ""},
		{"symlink to a 0600 file", toGood, ""},
		{"symlink to a world-readable file", toLink, "0644"},
		{"directory", dir, "not a regular file"},
		{"missing", filepath.Join(dir, "nope"), "no such file"},
		{"empty", writeSecret(t, "\n", 0o600), "is empty"},
		{"two lines", writeSecret(t, "a\nb\n", 0o600), "more than one line"},
		{"too large", writeSecret(t, strings.Repeat("x", MaxSecretFile+1), 0o600), "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ReadSecretFile(tc.path)
			if tc.want == "" {
				if err != nil || s != "s3cret" {
					t.Fatalf("ReadSecretFile = %q, %v", s, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestResolveSecret(t *testing.T) {
	t.Parallel()
	good := writeSecret(t, "fromfile", 0o600)
	loose := writeSecret(t, "fromfile", 0o644)
	type sec struct {
		Password     Secret `yaml:"password"`
		PasswordFile string `yaml:"password_file"`
	}
	type doc struct {
		Version int `yaml:"version"`
		MQTT    sec `yaml:"mqtt"`
	}
	for _, tc := range []struct {
		name, body, want, err, warn string
	}{
		{"file", "mqtt:\n  password_file: " + good + "\n", "fromfile", "", ""},
		{"inline warns", "mqtt:\n  password: inline\n", "inline", "", "c.yaml:3: mqtt.password: holds a secret inline"},
		{"both", "mqtt:\n  password: inline\n  password_file: " + good + "\n", "", "c.yaml:4: mqtt.password_file: set either mqtt.password or mqtt.password_file", ""},
		{"loose file", "mqtt:\n  password_file: " + loose + "\n", "", "c.yaml:3: mqtt.password_file: secret file mode: " + loose + " has mode 0644", ""},
		{"neither", "mqtt: {}\n", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d doc
			f, err := Decode("c.yaml", []byte("version: 1\n"+tc.body), []int{1}, &d)
			if err != nil {
				t.Fatal(err)
			}
			var errs Errors
			f.ResolveSecret(&errs, "mqtt.password", &d.MQTT.Password, "mqtt.password_file", d.MQTT.PasswordFile)
			err = errs.Err()
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want %q", err, tc.err)
			case tc.err == "" && string(d.MQTT.Password) != tc.want:
				t.Errorf("password %q, want %q", d.MQTT.Password, tc.want)
			}
			w := strings.Join(f.Warnings(), "\n")
			if (tc.warn == "") != (w == "") || !strings.Contains(w, tc.warn) {
				t.Errorf("warnings %q, want %q", w, tc.warn)
			}
		})
	}
}

func TestSecretRedactedEverywhere(t *testing.T) {
	t.Parallel()
	const raw = "hunter2"
	s := Secret(raw)
	type holder struct {
		Password Secret `yaml:"password" json:"password"`
	}
	var out []string
	for _, v := range []string{"%v", "%s", "%q", "%+v", "%#v", "%x"} {
		out = append(out, fmt.Sprintf(v, s), fmt.Sprintf(v, holder{s}))
	}
	j, _ := json.Marshal(holder{s})
	y, _ := yaml.Marshal(holder{s})
	out = append(out, string(j), string(y))
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("m", "password", s, "holder", holder{s})
	slog.New(slog.NewJSONHandler(&js, nil)).Info("m", "password", s, "holder", holder{s})
	out = append(out, text.String(), js.String())
	for _, o := range out {
		if strings.Contains(o, raw) || strings.Contains(o, fmt.Sprintf("%x", raw)) {
			t.Errorf("secret leaks: %s", o)
		}
	}
	if !strings.Contains(text.String(), "password=<secret>") {
		t.Errorf("text log %q does not show <secret>", text.String())
	}
}

// TestSecretFileFIFO: a FIFO named by mistake is refused at once rather
// than waited on.
func TestSecretFileFIFO(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "fifo")
	if err := mkfifo(p); err != nil {
		testrig.Missing(t, "no FIFOs here: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := ReadSecretFile(p); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("error %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadSecretFile blocked on a FIFO")
	}
}
