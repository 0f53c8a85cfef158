package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/rackwatch/rackwatch/collector/audit"
	"github.com/rackwatch/rackwatch/collector/decide"
)

// Limits of the decisions query.
const (
	DefaultLimit = 100
	MaxLimit     = 10000
)

// maxBody bounds a request body: the largest legitimate one is a pin
// reason.
const maxBody = 64 << 10

// maxReason bounds a pin reason, in characters.
const maxReason = 1024

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	route := func(path string, methods map[string]http.HandlerFunc) {
		allow := make([]string, 0, len(methods))
		for m, h := range methods {
			mux.HandleFunc(m+" "+path, h)
			allow = append(allow, m)
			if m == http.MethodGet {
				allow = append(allow, http.MethodHead)
			}
		}
		slices.Sort(allow)
		// Any other method: 405 with a JSON body, like every other error.
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed; use %s", r.Method, strings.Join(allow, ", ")))
		})
	}
	route("/healthz", map[string]http.HandlerFunc{http.MethodGet: s.healthz})
	route("/readyz", map[string]http.HandlerFunc{http.MethodGet: s.readyz})
	route("/api/v1/nodes", map[string]http.HandlerFunc{http.MethodGet: s.nodes})
	route("/api/v1/nodes/{node}", map[string]http.HandlerFunc{http.MethodGet: s.node})
	route("/api/v1/nodes/{node}/pin", map[string]http.HandlerFunc{
		http.MethodPut:    s.auth("pin", s.pin),
		http.MethodDelete: s.auth("unpin", s.unpin),
	})
	route("/api/v1/decisions", map[string]http.HandlerFunc{http.MethodGet: s.decisions})
	route("/api/v1/stop", map[string]http.HandlerFunc{
		http.MethodGet: s.getSwitch(func(sw Switches) bool { return sw.Stop }),
		http.MethodPut: s.auth("stop", s.putSwitch(s.opts.Controller.SetStop)),
	})
	route("/api/v1/dry-run", map[string]http.HandlerFunc{
		http.MethodGet: s.getSwitch(func(sw Switches) bool { return sw.DryRun }),
		http.MethodPut: s.auth("dry-run", s.putSwitch(s.opts.Controller.SetDryRun)),
	})
	if m := s.opts.Metrics; m != nil {
		route("/metrics", map[string]http.HandlerFunc{http.MethodGet: m.ServeHTTP})
	}
	if p := s.opts.Page; p != nil {
		for _, path := range []string{"/{$}", "/assets/", "/api/v1/events"} {
			route(path, map[string]http.HandlerFunc{http.MethodGet: p.ServeHTTP})
		}
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s", r.URL.Path))
	})
	return mux
}

func marshalIndent(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshalIndent(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = marshalIndent(errorBody{fmt.Sprintf("encode response: %v", err)})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(b)
}

type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{msg})
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, "ok\n")
}

type readyBody struct {
	Ready   bool     `json:"ready"`
	Reasons []string `json:"reasons"`
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	ok, reasons := s.opts.Controller.Ready()
	if reasons == nil {
		reasons = []string{}
	}
	status := http.StatusOK
	if !ok {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, readyBody{ok, reasons})
}

type nodesBody struct {
	Nodes []Node `json:"nodes"`
}

// normalize makes a node's JSON stable: empty lists are [] rather than
// null.
func normalize(n Node) Node {
	n.Entries = slices.Clone(n.Entries)
	if n.Entries == nil {
		n.Entries = []Entry{}
	}
	for i := range n.Entries {
		if n.Entries[i].Evidence == nil {
			n.Entries[i].Evidence = []audit.Evidence{}
		}
	}
	return n
}

func (s *Server) nodes(w http.ResponseWriter, _ *http.Request) {
	ns := s.opts.Controller.Nodes()
	out := make([]Node, 0, len(ns))
	for _, n := range ns {
		out = append(out, normalize(n))
	}
	slices.SortStableFunc(out, func(a, b Node) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, nodesBody{out})
}

func (s *Server) node(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("node")
	for _, n := range s.opts.Controller.Nodes() {
		if n.Name == name {
			writeJSON(w, http.StatusOK, normalize(n))
			return
		}
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("%v %q", ErrUnknownNode, name))
}

type decisionsBody struct {
	Decisions []audit.Record `json:"decisions"`
}

var actions = []decide.Action{decide.ActShed, decide.ActDrain, decide.ActRestore, decide.ActRollback, decide.ActAlarm, decide.ActPinned}

// parseFilter reads the decisions query: since (RFC 3339, or a duration
// before now such as 15m), node, limit and action (repeated or
// comma-separated).
func (s *Server) parseFilter(r *http.Request) (audit.Filter, error) {
	q := r.URL.Query()
	f := audit.Filter{Node: q.Get("node"), Limit: DefaultLimit}
	if v := q.Get("since"); v != "" {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			f.Since = t
		} else if d, derr := time.ParseDuration(v); derr == nil && d > 0 {
			f.Since = s.opts.Now().Add(-d)
		} else {
			return f, fmt.Errorf("since=%q: want an RFC 3339 time (2026-01-02T15:04:05Z) or a positive duration (15m)", v)
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			return f, fmt.Errorf("limit=%q: want a whole number from 1 to %d", v, MaxLimit)
		}
		f.Limit = n
	}
	for _, v := range q["action"] {
		for a := range strings.SplitSeq(v, ",") {
			a = strings.TrimSpace(a)
			if a == "" {
				continue
			}
			if !slices.Contains(actions, decide.Action(a)) {
				return f, fmt.Errorf("action=%q: want one of %v", a, actions)
			}
			f.Actions = append(f.Actions, decide.Action(a))
		}
	}
	return f, nil
}

func (s *Server) decisions(w http.ResponseWriter, r *http.Request) {
	f, err := s.parseFilter(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ds := s.opts.Controller.Decisions(f)
	if len(ds) > f.Limit {
		ds = ds[:f.Limit]
	}
	out := make([]audit.Record, 0, len(ds))
	for _, d := range ds {
		out = append(out, audit.NewRecord(d))
	}
	writeJSON(w, http.StatusOK, decisionsBody{out})
}

type switchBody struct {
	On *bool `json:"on"`
}

func (s *Server) getSwitch(get func(Switches) bool) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		on := get(s.opts.Controller.Switches())
		writeJSON(w, http.StatusOK, switchBody{&on})
	}
}

func (s *Server) putSwitch(set func(on bool, by string) decide.Decision) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, by string) {
		var body switchBody
		if !decodeBody(w, r, &body) {
			return
		}
		if body.On == nil {
			writeError(w, http.StatusBadRequest, `body: "on" is required: {"on": true} or {"on": false}`)
			return
		}
		d := set(*body.On, by)
		s.log.Info("api: switch set", "path", r.URL.Path, "on", *body.On, "actor", by, "remote", r.RemoteAddr)
		writeJSON(w, http.StatusOK, audit.NewRecord(d))
	}
}

type pinBody struct {
	Reason string `json:"reason"`
}

func (s *Server) pin(w http.ResponseWriter, r *http.Request, by string) {
	var body pinBody
	if !decodeBody(w, r, &body) {
		return
	}
	reason := strings.TrimSpace(body.Reason)
	switch {
	case reason == "":
		writeError(w, http.StatusBadRequest, `body: "reason" is required: say why the node is pinned`)
		return
	case len([]rune(reason)) > maxReason:
		writeError(w, http.StatusBadRequest, fmt.Sprintf(`body: "reason" is longer than %d characters`, maxReason))
		return
	case strings.IndexFunc(reason, unicode.IsControl) >= 0:
		writeError(w, http.StatusBadRequest, `body: "reason" contains control characters (newlines, tabs): keep it to one line`)
		return
	}
	node := r.PathValue("node")
	d, err := s.opts.Controller.Pin(node, by, reason)
	if !s.controllerError(w, node, err) {
		return
	}
	s.log.Info("api: node pinned", "node", node, "actor", by, "reason", reason, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, audit.NewRecord(d))
}

func (s *Server) unpin(w http.ResponseWriter, r *http.Request, by string) {
	node := r.PathValue("node")
	d, err := s.opts.Controller.Unpin(node, by)
	if !s.controllerError(w, node, err) {
		return
	}
	s.log.Info("api: node unpinned", "node", node, "actor", by, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, audit.NewRecord(d))
}

// controllerError answers an error from the controller and reports
// whether there was none.
func (s *Server) controllerError(w http.ResponseWriter, node string, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, ErrUnknownNode):
		writeError(w, http.StatusNotFound, fmt.Sprintf("%v %q", ErrUnknownNode, node))
	default:
		s.log.Error("api: controller", "node", node, "err", err)
		writeError(w, http.StatusInternalServerError, err.Error())
	}
	return false
}

// decodeBody reads one JSON object into v, strictly: unknown fields and
// trailing data are errors. It answers the error itself and reports
// whether decoding succeeded.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("unexpected data after the JSON object")
		}
	}
	if err == nil {
		return true
	}
	var tooBig *http.MaxBytesError
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body: larger than %d bytes", tooBig.Limit))
		return false
	case errors.Is(err, io.EOF):
		err = errors.New("empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		err = errors.New("truncated JSON")
	case errors.As(err, &syn):
		err = fmt.Errorf("invalid JSON at byte %d: %w", syn.Offset, err)
	case errors.As(err, &typ):
		err = fmt.Errorf("field %q: want a JSON %s, not %s", typ.Field, typ.Type, typ.Value)
	}
	writeError(w, http.StatusBadRequest, "body: "+err.Error())
	return false
}
