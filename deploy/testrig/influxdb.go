package testrig

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// InfluxDBVersion is the InfluxDB release the rig runs: the last 1.x, which
// serves both the 1.x /write and /query API and the v2 /api/v2/write
// compatibility endpoint that influxdb-client-go uses.
const InfluxDBVersion = "1.8.10"

// InfluxDB is a running InfluxDB 1.8 with authentication off.
type InfluxDB struct {
	URL  string // "http://127.0.0.1:port"
	Addr string // "127.0.0.1:port"

	s *service
}

// InfluxdPath returns where the rig looks for influxd: $RACKWATCH_INFLUXD,
// else the provisioned build in
// ${RACKWATCH_CACHE:-$HOME/.cache/rackwatch}/influxd-1.8.10/influxd, else
// influxd on PATH. ok is false when none exists.
func InfluxdPath() (path string, ok bool) {
	if p := os.Getenv("RACKWATCH_INFLUXD"); p != "" {
		return p, isExecutable(p)
	}
	cache := os.Getenv("RACKWATCH_CACHE")
	if cache == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cache = filepath.Join(home, ".cache", "rackwatch")
		}
	}
	if cache != "" {
		p := filepath.Join(cache, "influxd-"+InfluxDBVersion, "influxd")
		if isExecutable(p) {
			return p, true
		}
	}
	return lookBinary("influxd")
}

// InfluxDBOpts configures StartInfluxDBWith.
type InfluxDBOpts struct {
	// Flux enables the Flux engine and /api/v2/query (influxdb-client-go's
	// QueryAPI). It adds about 3 s to start-up, so it is off by default;
	// InfluxQL through Query works either way.
	Flux bool
}

// StartInfluxDB starts influxd on private loopback ports with its data in
// its own directory, without Flux.
func StartInfluxDB(t testing.TB) *InfluxDB {
	t.Helper()
	return StartInfluxDBWith(t, InfluxDBOpts{})
}

// StartInfluxDBWith is StartInfluxDB with options.
func StartInfluxDBWith(t testing.TB, opts InfluxDBOpts) *InfluxDB {
	t.Helper()
	bin, ok := InfluxdPath()
	if !ok {
		Missing(t, "influxd %s not found: run deploy/testrig/provision.sh (`make test` does), which builds it into ${RACKWATCH_CACHE:-$HOME/.cache/rackwatch}/influxd-%s/, or set RACKWATCH_INFLUXD", InfluxDBVersion, InfluxDBVersion)
	}
	s := newService(t, "influxd", bin, 0o755)
	i := &InfluxDB{s: s}
	conf := filepath.Join(s.dir, "influxdb.conf")
	s.launch(t, func() {
		i.Addr = "127.0.0.1:" + strconv.Itoa(mustFreePort(t, "tcp"))
		i.URL = "http://" + i.Addr
		rpc := "127.0.0.1:" + strconv.Itoa(mustFreePort(t, "tcp"))
		writeFile(t, conf, influxConf(s.dir, i.Addr, rpc, opts.Flux))
		s.args = []string{"run", "-config", conf}
		ping := i.URL + "/ping"
		s.ready = func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, ping, nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				return fmt.Errorf("GET /ping: %s", resp.Status)
			}
			return nil
		}
	})
	return i
}

func influxConf(dir, httpAddr, rpcAddr string, flux bool) string {
	q := strconv.Quote
	return fmt.Sprintf(`reporting-disabled = true
bind-address = %s

[meta]
  dir = %s
  logging-enabled = false

[data]
  dir = %s
  wal-dir = %s
  query-log-enabled = false
  wal-fsync-delay = "0s"

[monitor]
  store-enabled = false

[continuous_queries]
  enabled = false
  log-enabled = false

[http]
  enabled = true
  bind-address = %s
  auth-enabled = false
  log-enabled = false
  flux-enabled = %t
  pprof-enabled = false

[logging]
  level = "warn"
  suppress-logo = true
`, q(rpcAddr), q(filepath.Join(dir, "meta")), q(filepath.Join(dir, "data")), q(filepath.Join(dir, "wal")), q(httpAddr), flux)
}

// CreateDatabase creates database name (a no-op if it exists).
func (i *InfluxDB) CreateDatabase(t testing.TB, name string) {
	t.Helper()
	form := url.Values{"q": {"CREATE DATABASE " + strconv.Quote(name)}}
	i.do(t, http.MethodPost, "/query", form, "")
}

// Query runs an InfluxQL query against db and returns the JSON answer. It
// fails the test if InfluxDB reports an error.
func (i *InfluxDB) Query(t testing.TB, db, q string) []byte {
	t.Helper()
	return i.do(t, http.MethodGet, "/query", url.Values{"db": {db}, "q": {q}}, "")
}

// Write writes line protocol to db through the 1.x /write endpoint, with
// nanosecond timestamps.
func (i *InfluxDB) Write(t testing.TB, db, lines string) {
	t.Helper()
	i.do(t, http.MethodPost, "/write", url.Values{"db": {db}}, lines)
}

// Stop stops influxd; writers see connections refused. Restart brings it
// back on the same port.
func (i *InfluxDB) Stop() { i.s.stop() }

// Restart stops influxd, if it runs, and starts it again on the same port
// with the same configuration and data directory, so databases and points
// written before survive.
func (i *InfluxDB) Restart(t testing.TB) {
	t.Helper()
	i.s.stop()
	var err error
	for range 10 {
		if err = i.s.start(); err == nil || !errors.Is(err, errExited) {
			break
		}
		// The port may still be held by a connection being torn down.
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		i.s.reported.Store(true)
		t.Fatalf("testrig: restart influxd on %s: %v; last lines of its log:\n%s", i.Addr, err, i.s.tail(logTailLines))
	}
}

func (i *InfluxDB) do(t testing.TB, method, path string, params url.Values, body string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u := i.URL + path
	var rd io.Reader
	contentType := ""
	switch {
	case body != "":
		u += "?" + params.Encode()
		rd = strings.NewReader(body)
		contentType = "text/plain; charset=utf-8"
	case method == http.MethodPost:
		rd = strings.NewReader(params.Encode())
		contentType = "application/x-www-form-urlencoded"
	default:
		u += "?" + params.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		t.Fatalf("testrig: influxdb %s %s: %v", method, path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("testrig: influxdb %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("testrig: influxdb %s %s: read answer: %v", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		t.Fatalf("testrig: influxdb %s %s %v: %s: %s", method, path, params, resp.Status, b)
	}
	if err := influxError(b); err != nil {
		t.Fatalf("testrig: influxdb %s %s %v: %v", method, path, params, err)
	}
	return b
}

// influxError extracts the error a /query answer carries with status 200.
func influxError(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	var r struct {
		Error   string `json:"error"`
		Results []struct {
			Error string `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("testrig: decode answer %q: %w", b, err)
	}
	if r.Error != "" {
		return fmt.Errorf("testrig: %s", r.Error)
	}
	for _, res := range r.Results {
		if res.Error != "" {
			return fmt.Errorf("testrig: %s", res.Error)
		}
	}
	return nil
}
