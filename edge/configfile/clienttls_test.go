package configfile

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rackwatch/rackwatch/deploy/testrig"
)

// testPair writes a self-signed client certificate named cn and its key
// (mode 0600) to dir and returns their paths.
func testPair(t *testing.T, dir, cn string) (certFile, keyFile string) {
	certFile, keyFile, _ = testrig.WriteCert(t, dir, cn, testrig.CertOpts{CommonName: cn, Usage: x509.ExtKeyUsageClientAuth})
	return certFile, keyFile
}

func TestClientTLSConfig(t *testing.T) {
	dir := t.TempDir()
	cert, key := testPair(t, dir, "rack1")
	otherCert, otherKey := testPair(t, dir, "rack2")
	openKey := filepath.Join(dir, "open.key")
	b, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(openKey, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(openKey, 0o644); err != nil { // past the umask
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(notPEM, []byte("junk\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name      string
		c         ClientTLS
		wantNil   bool
		wantField string // "" for success
		wantMsg   string
	}{
		{name: "nothing", wantNil: true},
		{name: "CA only", c: ClientTLS{CAFile: cert}},
		{name: "mutual", c: ClientTLS{CAFile: cert, CertFile: cert, KeyFile: key}},
		{name: "client pair and system roots", c: ClientTLS{CertFile: cert, KeyFile: key}},
		{name: "CA missing", c: ClientTLS{CAFile: filepath.Join(dir, "nope")}, wantField: "ca_file", wantMsg: "no such file"},
		{name: "CA not PEM", c: ClientTLS{CAFile: notPEM}, wantField: "ca_file", wantMsg: "no PEM certificate"},
		{name: "cert without key", c: ClientTLS{CertFile: cert}, wantField: "key_file", wantMsg: "required with cert_file"},
		{name: "key without cert", c: ClientTLS{KeyFile: key}, wantField: "cert_file", wantMsg: "required with key_file"},
		{name: "cert missing", c: ClientTLS{CertFile: filepath.Join(dir, "nope"), KeyFile: key}, wantField: "cert_file", wantMsg: "no such file"},
		{name: "cert not PEM", c: ClientTLS{CertFile: notPEM, KeyFile: key}, wantField: "cert_file", wantMsg: "no PEM certificate"},
		{name: "key missing", c: ClientTLS{CertFile: cert, KeyFile: filepath.Join(dir, "nope")}, wantField: "key_file", wantMsg: "no such file"},
		{name: "key of another certificate", c: ClientTLS{CertFile: cert, KeyFile: otherKey}, wantField: "key_file", wantMsg: "does not match"},
		{name: "key readable by others", c: ClientTLS{CertFile: cert, KeyFile: openKey}, wantField: "key_file", wantMsg: "has mode 0644"},
		{name: "certificate as key", c: ClientTLS{CertFile: cert, KeyFile: otherCert}, wantField: "key_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.c.Config()
			if tc.wantField == "" {
				if err != nil {
					t.Fatalf("Config: %v", err)
				}
				if (got == nil) != tc.wantNil {
					t.Fatalf("Config = %v, want nil %v", got, tc.wantNil)
				}
				if got != nil && got.MinVersion < tls.VersionTLS12 {
					t.Errorf("MinVersion %x, want TLS 1.2 or later", got.MinVersion)
				}
				if (tc.c.CertFile != "") != (got != nil && got.GetClientCertificate != nil) {
					t.Errorf("client certificate offered: %v, want %v", got.GetClientCertificate != nil, tc.c.CertFile != "")
				}
				return
			}
			var fe *TLSFileError
			if !errors.As(err, &fe) {
				t.Fatalf("Config error %v (%T), want a *TLSFileError", err, err)
			}
			if fe.Field != tc.wantField || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %s: %v, want %s: ...%s...", fe.Field, err, tc.wantField, tc.wantMsg)
			}
			if strings.HasPrefix(err.Error(), "configfile: ") {
				t.Errorf("error %q repeats the package prefix inside a file:line:key message", err)
			}
		})
	}
}

// A renewed pair is used at the next handshake; a broken one leaves the
// last good pair in use rather than cutting the client off.
func TestClientTLSReloadsThePair(t *testing.T) {
	dir := t.TempDir()
	cert, key := testPair(t, dir, "rack1")
	cfg, err := ClientTLS{CertFile: cert, KeyFile: key}.Config()
	if err != nil {
		t.Fatal(err)
	}
	cn := func() string {
		t.Helper()
		c, err := cfg.GetClientCertificate(&tls.CertificateRequestInfo{})
		if err != nil || c == nil {
			t.Fatalf("GetClientCertificate: %v, %v", c, err)
		}
		x, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return x.Subject.CommonName
	}
	if got := cn(); got != "rack1" {
		t.Fatalf("first handshake offers %q, want rack1", got)
	}
	// Rotation: the new pair replaces the files of the old one.
	newCert, newKey := testPair(t, t.TempDir(), "rack1-renewed")
	for _, m := range [][2]string{{newCert, cert}, {newKey, key}} {
		if err := os.Rename(m[0], m[1]); err != nil {
			t.Fatal(err)
		}
	}
	if got := cn(); got != "rack1-renewed" {
		t.Fatalf("after rotation the handshake offers %q, want rack1-renewed", got)
	}
	// Half-way through the next rotation the key is gone.
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	if got := cn(); got != "rack1-renewed" {
		t.Fatalf("with the key missing the handshake offers %q, want the last good pair", got)
	}
}

func TestCheckClientTLSNamesLineAndKey(t *testing.T) {
	dir := t.TempDir()
	cert, key := testPair(t, dir, "rack1")
	for _, tc := range []struct {
		name   string
		broker string
		c      ClientTLS
		want   string // "" for no error
	}{
		{"mutual TLS", "ssl://b:8883", ClientTLS{CAFile: cert, CertFile: cert, KeyFile: key}, ""},
		{"websocket TLS", "wss://b:443", ClientTLS{CertFile: cert, KeyFile: key}, ""},
		{"CA on plain TCP", "tcp://b:1883", ClientTLS{CAFile: cert}, ""},
		{"certificate on plain TCP", "tcp://b:1883", ClientTLS{CertFile: cert, KeyFile: key}, "edge.yaml:4: mqtt.cert_file: a client certificate needs a TLS broker URL"},
		{"certificate and no broker", "", ClientTLS{CertFile: cert, KeyFile: key}, `edge.yaml:4: mqtt.cert_file: a client certificate needs a TLS broker URL (ssl://, tls:// or wss://), but the broker is ""`},
		{"key missing", "ssl://b:8883", ClientTLS{CertFile: cert}, "edge.yaml:5: mqtt.key_file: required with cert_file"},
		{"bad key", "ssl://b:8883", ClientTLS{CertFile: cert, KeyFile: cert}, "edge.yaml:5: mqtt.key_file: secret file mode: " + cert},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The file's keys give the lines: mqtt 3, cert_file 4, key_file 5.
			var c struct {
				Version int            `yaml:"version"`
				X       map[string]any `yaml:"x"`
				MQTT    map[string]any `yaml:"mqtt"`
			}
			f, err := Decode("edge.yaml", []byte("version: 1\nx: {}\nmqtt:\n  cert_file: a\n  key_file: b\n"), []int{1}, &c)
			if err != nil {
				t.Fatal(err)
			}
			var errs Errors
			f.CheckClientTLS(&errs, "mqtt.", tc.c, tc.broker)
			err = errs.Err()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}
