package actuate

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/collector/decide"
)

type hookRequest struct {
	key, auth, ctype string
	body             []byte
}

// hookServer answers with the statuses given, then 200; a status of -1
// stalls past the client's timeout.
type hookServer struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	got      []hookRequest
}

func startHook(t *testing.T, statuses ...int) *hookServer {
	t.Helper()
	h := &hookServer{statuses: statuses}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got = append(h.got, hookRequest{key: r.Header.Get("Idempotency-Key"), auth: r.Header.Get("Authorization"),
			ctype: r.Header.Get("Content-Type"), body: body})
		status := http.StatusOK
		if len(h.statuses) > 0 {
			status, h.statuses = h.statuses[0], h.statuses[1:]
		}
		h.mu.Unlock()
		if status == -1 {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, http.StatusText(status))
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) requests() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookRequest(nil), h.got...)
}

func newTestWebhook(t *testing.T, url, tokenFile string, log *slog.Logger) *Webhook {
	t.Helper()
	if log == nil {
		log = quiet
	}
	w, err := NewWebhook(WebhookOpts{URL: url, TokenFile: tokenFile, Timeout: 200 * time.Millisecond, Backoff: fastBackoff,
		Logger: log, Now: func() time.Time { return time.UnixMilli(1_795_700_047_123) }})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWebhookBody(t *testing.T) {
	t.Parallel()
	srv := startHook(t)
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("s3cr3t-t0ken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w := newTestWebhook(t, srv.URL+"/hook", token, nil)
	n7 := decide.Target{Node: "n7", LB: "lb1", Backend: "api", Server: "s7"}
	dec := decide.Decision{Node: "n7", Action: decide.ActShed, Cause: "hot", Actor: "engine", Taken: true}
	if err := w.Apply(WithDecision(context.Background(), dec), n7, decide.Shed.Desired()); err != nil {
		t.Fatal(err)
	}
	if err := w.Apply(context.Background(), n7, decide.Drained.Desired()); err != nil {
		t.Fatal(err)
	}
	got := srv.requests()
	if len(got) != 2 {
		t.Fatalf("%d requests, want 2", len(got))
	}
	var first map[string]any
	if err := json.Unmarshal(got[0].body, &first); err != nil {
		t.Fatal(err)
	}
	wantTarget := map[string]any{"node": "n7", "lb": "lb1", "backend": "api", "server": "s7"}
	wantDesired := map[string]any{"state": "ready", "weight_percent": 50.0}
	if !jsonEqual(first["target"], wantTarget) || !jsonEqual(first["desired"], wantDesired) || first["version"] != 1795700047123.0 {
		t.Errorf("body %s", got[0].body)
	}
	if d, _ := first["decision"].(map[string]any); d["action"] != "shed" || d["cause"] != "hot" {
		t.Errorf("decision in body: %v", first["decision"])
	}
	if got[0].key != "n7/lb1/api/s7/ready-50/1795700047123" || got[0].auth != "Bearer s3cr3t-t0ken" || got[0].ctype != "application/json" {
		t.Errorf("headers %+v", got[0])
	}
	// The second apply has a later version even though the clock stood
	// still, and no decision.
	if got[1].key != "n7/lb1/api/s7/drain-100/1795700047124" || bytes.Contains(got[1].body, []byte("decision")) {
		t.Errorf("second request: key %q body %s", got[1].key, got[1].body)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestWebhookRetries(t *testing.T) {
	t.Parallel()
	n1 := decide.Target{Node: "n1", LB: "lb1", Backend: "api", Server: "s1"}
	tests := []struct {
		name      string
		statuses  []int
		wantTries int
		wantErr   string
	}{
		{"5xx then ok", []int{503, 502}, 3, ""},
		{"429 and timeout then ok", []int{429, -1}, 3, ""},
		{"5xx exhausts the attempts", []int{500, 500, 500}, 3, "status 500"},
		{"4xx is not retried", []int{400}, 1, "status 400"},
		{"401 is not retried", []int{401}, 1, "status 401"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startHook(t, tc.statuses...)
			w := newTestWebhook(t, srv.URL, "", nil)
			err := w.Apply(context.Background(), n1, decide.Shed.Desired())
			got := srv.requests()
			if len(got) != tc.wantTries {
				t.Errorf("%d tries, want %d", len(got), tc.wantTries)
			}
			for _, r := range got[1:] {
				if r.key != got[0].key || !bytes.Equal(r.body, got[0].body) {
					t.Errorf("a retry differs: %q %s vs %q %s", r.key, r.body, got[0].key, got[0].body)
				}
			}
			s := w.Stats()
			if tc.wantErr == "" {
				if err != nil || s.Sent != 1 || s.Failed != 0 {
					t.Errorf("error %v, stats %+v", err, s)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || s.Failed != 1 || s.Sent != 0 {
				t.Errorf("error %v (want %q), stats %+v", err, tc.wantErr, s)
			}
		})
	}
}

func TestWebhookTokenNeverLogged(t *testing.T) {
	t.Parallel()
	const secret = "very-secret-token"
	srv := startHook(t, 500, 500, 500)
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w := newTestWebhook(t, srv.URL, token, log)
	err := w.Apply(context.Background(), decide.Target{Node: "n1", LB: "lb1", Backend: "api", Server: "s1"}, decide.Shed.Desired())
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
		t.Errorf("token leaked: error %q, log %q", err, logs.String())
	}
	if !strings.Contains(logs.String(), "webhook attempt failed") {
		t.Errorf("retries not logged: %q", logs.String())
	}

	// A missing or empty token file fails at once, naming the file.
	for name, content := range map[string]*string{"missing": nil, "empty": new(string)} {
		path := filepath.Join(t.TempDir(), "token")
		if content != nil {
			if err := os.WriteFile(path, []byte(*content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		before := len(srv.requests())
		w := newTestWebhook(t, srv.URL, path, nil)
		err := w.Apply(context.Background(), decide.Target{Node: "n1"}, decide.Shed.Desired())
		if err == nil || !strings.Contains(err.Error(), path) || len(srv.requests()) != before {
			t.Errorf("%s token file: error %v, %d requests sent", name, err, len(srv.requests())-before)
		}
	}
}

func TestNewWebhookErrors(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "ftp://x/", "http://", "://bad"} {
		if _, err := NewWebhook(WebhookOpts{URL: u}); err == nil {
			t.Errorf("url %q: no error", u)
		}
	}
	_, err := NewWebhook(WebhookOpts{URL: "ftp://user:pw@host/"})
	if err == nil || strings.Contains(err.Error(), "pw") {
		t.Errorf("error %v must not show the password", err)
	}
}
