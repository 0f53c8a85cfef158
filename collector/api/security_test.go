package api_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/api"
	"github.com/rackwatch/rackwatch/deploy/testrig"
)

// writeCert writes a self-signed certificate for 127.0.0.1 and its key
// (mode keyMode) and returns their paths and the certificate.
func writeCert(t *testing.T, dir string, keyMode os.FileMode) (certFile, keyFile string, cert *x509.Certificate) {
	return testrig.WriteCert(t, dir, "api", testrig.CertOpts{CommonName: "rackwatch-collector",
		IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Usage: x509.ExtKeyUsageServerAuth, KeyMode: keyMode})
}

// runServer runs srv until the test ends.
func runServer(t *testing.T, srv *api.Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-srv.Listening():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, cert := writeCert(t, t.TempDir(), 0o600)
	srv, err := api.New(api.Opts{Addr: "127.0.0.1:0", Controller: newFake(t), Tokens: tokens, Logger: slog.New(slog.DiscardHandler),
		TLSCertFile: certFile, TLSKeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	runServer(t, srv)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	client := func(tc *tls.Config) *http.Client {
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
	}
	for _, tc := range []struct {
		name, url string
		tls       *tls.Config
		ok        bool
	}{
		{"https", "https://" + srv.Addr() + "/healthz", &tls.Config{RootCAs: roots}, true},
		{"plain http is not served", "http://" + srv.Addr() + "/healthz", nil, false},
		{"TLS 1.1 is refused", "https://" + srv.Addr() + "/healthz", &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := client(tc.tls).Get(tc.url)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if ok := err == nil && resp.StatusCode == 200; ok != tc.ok {
				t.Errorf("GET %s: err %v; want success %v", tc.url, err, tc.ok)
			}
		})
	}
	// A mutating call over TLS still needs its token.
	req, _ := http.NewRequest(http.MethodPut, "https://"+srv.Addr()+"/api/v1/stop", strings.NewReader(`{"on":true}`))
	resp, err := client(&tls.Config{RootCAs: roots}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("PUT without a token over TLS = %d", resp.StatusCode)
	}
}

func TestTLSFilesChecked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile, _ := writeCert(t, dir, 0o644)
	_, otherKey, _ := writeCert(t, t.TempDir(), 0o600)
	for _, tc := range []struct {
		name, cert, key, want string
	}{
		{"world-readable key", certFile, keyFile, "tls_key_file: configfile: secret file mode: " + keyFile + " has mode 0644"},
		{"key without certificate", "", keyFile, "tls_key_file needs tls_cert_file"},
		{"certificate without key", certFile, "", "tls_cert_file needs tls_key_file"},
		{"missing certificate", filepath.Join(dir, "nope.crt"), otherKey, "tls_cert_file: stat "},
		{"key of another certificate", certFile, otherKey, "private key does not match public key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := api.New(api.Opts{Controller: newFake(t), TLSCertFile: tc.cert, TLSKeyFile: tc.key})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
			if err2 := api.CheckTLS(tc.cert, tc.key); (err2 == nil) != (err == nil) {
				t.Errorf("CheckTLS = %v, New = %v", err2, err)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	now := time.Unix(1e9, 0)
	srv, err := api.New(api.Opts{Controller: newFake(t), Tokens: tokens, Logger: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return now }, RateLimit: api.RateLimit{PerClient: 0.5, PerClientBurst: 2, Global: 100, GlobalBurst: 100}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path, remote, token string) *httptest.ResponseRecorder {
		method := http.MethodGet
		var body io.Reader
		if token != "" {
			method, body = http.MethodPut, strings.NewReader(`{"on":false}`)
		}
		req := httptest.NewRequest(method, path, body)
		req.RemoteAddr = remote
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, req)
		return w
	}
	for _, tc := range []struct {
		name, path, remote, token string
		want                      int
	}{
		{"first", "/healthz", "192.0.2.1:1000", "", 200},
		{"second, another port", "/api/v1/nodes", "192.0.2.1:1001", "", 200},
		{"third is over the burst", "/healthz", "192.0.2.1:1002", "", 429},
		{"a change too, before its token is looked at", "/api/v1/stop", "192.0.2.1:1003", aliceToken, 429},
		{"another client", "/healthz", "192.0.2.2:1000", "", 200},
		{"another client's change", "/api/v1/stop", "192.0.2.2:1000", aliceToken, 200},
	} {
		w := get(tc.path, tc.remote, tc.token)
		if w.Code != tc.want {
			t.Fatalf("%s: %d, want %d", tc.name, w.Code, tc.want)
		}
		if w.Code == 429 {
			ra, err := strconv.Atoi(w.Header().Get("Retry-After"))
			if err != nil || ra != 2 {
				t.Errorf("%s: Retry-After %q, want 2 (one token at 0.5/s)", tc.name, w.Header().Get("Retry-After"))
			}
			if !strings.Contains(w.Body.String(), `"error"`) {
				t.Errorf("%s: body %q is not the JSON error", tc.name, w.Body.String())
			}
		}
	}
	if n := srv.Limited(); n != 2 {
		t.Errorf("Limited = %d, want 2", n)
	}
	now = now.Add(2 * time.Second)
	if w := get("/healthz", "192.0.2.1:1004", ""); w.Code != 200 {
		t.Errorf("after the refill: %d", w.Code)
	}
}

func TestRateLimitRejectsBadValues(t *testing.T) {
	t.Parallel()
	if _, err := api.New(api.Opts{Controller: newFake(t), RateLimit: api.RateLimit{PerClient: -1}}); err == nil {
		t.Error("a negative rate was accepted")
	}
}

// TestTokensNeverLeak: neither a valid nor an invalid token appears in
// the log or in any response.
func TestTokensNeverLeak(t *testing.T) {
	t.Parallel()
	h := newHarness(t, tokens)
	const wrong = "wrong-token-0123456789"
	var bodies bytes.Buffer
	for _, tok := range []string{aliceToken, bobToken, wrong} {
		for _, path := range []string{"/api/v1/stop", "/api/v1/dry-run"} {
			r := h.do(t, http.MethodPut, path, tok, `{"on":false}`)
			bodies.Write(r.body)
		}
	}
	for _, path := range []string{"/healthz", "/readyz", "/api/v1/nodes", "/api/v1/decisions", "/api/v1/stop"} {
		bodies.Write(h.do(t, http.MethodGet, path, "", "").body)
	}
	for _, tok := range []string{aliceToken, bobToken, wrong} {
		if strings.Contains(h.log.String(), tok) {
			t.Errorf("the log holds a token:\n%s", h.log)
		}
		if strings.Contains(bodies.String(), tok) {
			t.Errorf("a response holds a token:\n%s", bodies.String())
		}
	}
	if !strings.Contains(h.log.String(), "invalid token") {
		t.Errorf("the refused token was not logged at all:\n%s", h.log)
	}
}
