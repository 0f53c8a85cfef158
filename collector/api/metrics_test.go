package api_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rackwatch/rackwatch/collector/api"
)

func TestMetricsRoute(t *testing.T) {
	t.Parallel()
	exposition := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "rackwatch_collector_mqtt_connected 1\n")
	})
	for _, tc := range []struct {
		name    string
		metrics http.Handler
		method  string
		want    int
	}{
		{"served", exposition, http.MethodGet, http.StatusOK},
		{"head", exposition, http.MethodHead, http.StatusOK},
		{"read only", exposition, http.MethodPost, http.StatusMethodNotAllowed},
		{"not configured", nil, http.MethodGet, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, err := api.New(api.Opts{Controller: newFake(t), Logger: slog.New(slog.DiscardHandler), Metrics: tc.metrics})
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, httptest.NewRequest(tc.method, "/metrics", nil))
			if rec.Code != tc.want {
				t.Errorf("%s /metrics: %d, want %d", tc.method, rec.Code, tc.want)
			}
			if tc.want == http.StatusOK && tc.method == http.MethodGet && rec.Body.String() != "rackwatch_collector_mqtt_connected 1\n" {
				t.Errorf("body %q", rec.Body)
			}
		})
	}
}
