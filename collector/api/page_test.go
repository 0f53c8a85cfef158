package api_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rackwatch/rackwatch/collector/api"
)

func TestPageRoutes(t *testing.T) {
	t.Parallel()
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "page "+r.URL.Path)
	})
	for _, tc := range []struct {
		name   string
		page   http.Handler
		method string
		path   string
		want   int
		body   string
	}{
		{"page", page, http.MethodGet, "/", http.StatusOK, "page /"},
		{"asset", page, http.MethodGet, "/assets/app.js", http.StatusOK, "page /assets/app.js"},
		{"events", page, http.MethodGet, "/api/v1/events", http.StatusOK, "page /api/v1/events"},
		{"read only", page, http.MethodPost, "/", http.StatusMethodNotAllowed, ""},
		{"other paths stay the API's", page, http.MethodGet, "/nope", http.StatusNotFound, ""},
		{"the API stays the API's", page, http.MethodGet, "/api/v1/stop", http.StatusOK, ""},
		{"not configured", nil, http.MethodGet, "/", http.StatusNotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, err := api.New(api.Opts{Controller: newFake(t), Logger: slog.New(slog.DiscardHandler), Page: tc.page})
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.want {
				t.Errorf("%s %s: %d, want %d", tc.method, tc.path, rec.Code, tc.want)
			}
			if tc.body != "" && rec.Body.String() != tc.body {
				t.Errorf("body %q, want %q", rec.Body, tc.body)
			}
		})
	}
}
