package statuspage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Paths the page is served at; the API server mounts Handler on them.
const (
	PathPage   = "/"
	PathAssets = "/assets/"
	PathEvents = "/api/v1/events"
)

//go:embed assets
var assetFS embed.FS

// Opts configure a Page. The zero value of every field but Source is a
// sensible default.
type Opts struct {
	// Source is the collector; required.
	Source Source
	Logger *slog.Logger
	// Now stamps heartbeats.
	Now func() time.Time
	// MinInterval is the least time between two snapshot events: changes
	// in between are coalesced into one (default 500ms).
	MinInterval time.Duration
	// Heartbeat is the period of heartbeat events on an idle stream
	// (default 15s): they keep proxies from closing it and tell the page
	// the collector is alive.
	Heartbeat time.Duration
	// ClientBuffer bounds the events queued for one client (default 8): a
	// client that falls further behind is dropped, and reconnects.
	ClientBuffer int
	// MaxClients bounds concurrent event streams (default 64).
	MaxClients int
	// WriteTimeout bounds the write of one event to a client (default 10s).
	WriteTimeout time.Duration
}

// Page serves the status page and its event stream.
type Page struct {
	opts  Opts
	log   *slog.Logger
	index *template.Template
	files map[string]asset
	// epoch makes event IDs unique across restarts, so that a client's
	// Last-Event-ID from an earlier process never matches.
	epoch string

	mu      sync.Mutex
	clients map[*client]struct{}
	closed  bool  // Run has ended: no new streams
	last    event // the latest snapshot event; zero before the first

	seq     atomic.Uint64
	dropped atomic.Uint64 // clients dropped for falling behind
	events  atomic.Uint64 // snapshot events published
}

type asset struct {
	body  []byte
	ctype string
	etag  string
	hash  string // content hash, the ?v= of the page's links
}

// event is one SSE event: a snapshot (with an id), a heartbeat, or the
// reconnection delay (retry, in ms).
type event struct {
	name  string
	id    string
	data  []byte
	key   []byte // a snapshot's data without its time, to spot repeats
	retry int
}

type client struct {
	ch   chan event
	gone chan struct{} // closed when the page drops the client
}

var contentTypes = map[string]string{
	".css": "text/css; charset=utf-8",
	".js":  "text/javascript; charset=utf-8",
	".svg": "image/svg+xml",
}

// New builds a page over opts.Source; nothing runs until Run.
func New(opts *Opts) (*Page, error) {
	var o Opts
	if opts != nil {
		o = *opts
	}
	if o.Source == nil {
		return nil, errors.New("statuspage: a source is required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MinInterval <= 0 {
		o.MinInterval = 500 * time.Millisecond
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	if o.ClientBuffer <= 0 {
		o.ClientBuffer = 8
	}
	if o.MaxClients <= 0 {
		o.MaxClients = 64
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	p := &Page{opts: o, log: o.Logger, files: map[string]asset{}, clients: map[*client]struct{}{},
		epoch: fmt.Sprintf("%x", time.Now().UnixNano())}
	err := fs.WalkDir(assetFS, "assets", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ctype, ok := contentTypes[path.Ext(name)]
		if !ok {
			return nil // the page template
		}
		b, err := assetFS.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:8])
		p.files[path.Base(name)] = asset{body: b, ctype: ctype, etag: `"` + h + `"`, hash: h}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("statuspage: assets: %w", err)
	}
	p.index, err = template.New("index.html").Funcs(p.funcs()).ParseFS(assetFS, "assets/index.html")
	if err != nil {
		return nil, fmt.Errorf("statuspage: page template: %w", err)
	}
	return p, nil
}

// Stats are the page's counters.
type Stats struct {
	Clients int    // event streams open
	Dropped uint64 // clients dropped for falling behind
	Events  uint64 // snapshot events published
}

// Stats returns the page's counters.
func (p *Page) Stats() Stats {
	p.mu.Lock()
	n := len(p.clients)
	p.mu.Unlock()
	return Stats{Clients: n, Dropped: p.dropped.Load(), Events: p.events.Load()}
}

// Run publishes a snapshot event when the source changes, at most one per
// MinInterval, and a heartbeat after Heartbeat without one, until ctx
// ends; then it drops every client, so that their streams end.
func (p *Page) Run(ctx context.Context) error {
	defer p.closeAll()
	hb := time.NewTicker(p.opts.Heartbeat)
	defer hb.Stop()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var (
		changed <-chan struct{}
		due     <-chan time.Time
		last    time.Time // the last snapshot taken
	)
	publish := func() {
		// Changed before Snapshot: a change in between is not lost.
		changed = p.opts.Source.Changed()
		last = time.Now()
		if p.publish() {
			hb.Reset(p.opts.Heartbeat)
		}
	}
	publish()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hb.C:
			p.heartbeat()
		case <-changed:
			changed = nil
			if d := time.Until(last.Add(p.opts.MinInterval)); d > 0 {
				timer.Reset(d)
				due = timer.C
				continue
			}
			publish()
		case <-due:
			due = nil
			publish()
		}
	}
}

// publish takes a snapshot and sends it to every client, unless it is the
// same as the last one but for its time. It reports whether it sent one.
// Only Run calls it.
func (p *Page) publish() bool {
	snap := p.opts.Source.Snapshot()
	at := snap.At
	snap.At = time.Time{}
	key, err := encode(snap)
	if err != nil {
		p.log.Error("statuspage: encoding the snapshot", "err", err)
		return false
	}
	snap.At = at
	data, err := encode(snap)
	if err != nil {
		p.log.Error("statuspage: encoding the snapshot", "err", err)
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last.key != nil && bytes.Equal(key, p.last.key) {
		return false
	}
	ev := event{name: "snapshot", id: fmt.Sprintf("%s-%d", p.epoch, p.seq.Add(1)), data: data, key: key}
	p.last = ev
	p.broadcastLocked(ev)
	p.events.Add(1)
	return true
}

func (p *Page) heartbeat() {
	data, _ := encode(struct {
		At time.Time `json:"at"`
	}{p.opts.Now().UTC()})
	p.mu.Lock()
	defer p.mu.Unlock()
	p.broadcastLocked(event{name: "heartbeat", data: data})
}

// broadcastLocked queues ev for every client. A client whose queue is full
// is dropped rather than waited for: the collector never waits on a
// browser.
func (p *Page) broadcastLocked(ev event) {
	for c := range p.clients {
		select {
		case c.ch <- ev:
		default:
			p.dropLocked(c)
			p.dropped.Add(1)
			p.log.Warn("statuspage: dropped a slow event stream client", "queued", cap(c.ch))
		}
	}
}

func (p *Page) dropLocked(c *client) {
	if _, ok := p.clients[c]; ok {
		delete(p.clients, c)
		close(c.gone)
	}
}

func (p *Page) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for c := range p.clients {
		p.dropLocked(c)
	}
}

// subscribe adds a client and returns the latest snapshot event with it,
// atomically: every later one reaches the client's queue.
func (p *Page) subscribe() (*client, event, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.clients) >= p.opts.MaxClients {
		return nil, event{}, false
	}
	c := &client{ch: make(chan event, p.opts.ClientBuffer), gone: make(chan struct{})}
	p.clients[c] = struct{}{}
	return c, p.last, true
}

func (p *Page) unsubscribe(c *client) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropLocked(c)
}

// writeError answers like the rest of the API: a JSON object with one key.
func writeError(w http.ResponseWriter, code int, msg string) {
	b, _ := encode(struct {
		Error string `json:"error"`
	}{msg})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // units and causes are prose: "°C", "≥"
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	// Compact JSON has no newline but the encoder's last: one SSE data
	// line.
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// securityHeaders apply to every response of the page: nothing but the
// collector's own scripts, styles and event stream, and no framing.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// ServeHTTP serves the page at PathPage, its assets under PathAssets and
// the event stream at PathEvents.
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; use GET, HEAD")
		return
	}
	switch {
	case r.URL.Path == PathPage:
		p.serveIndex(w, r)
	case r.URL.Path == PathEvents:
		p.serveEvents(w, r)
	case strings.HasPrefix(r.URL.Path, PathAssets):
		p.serveAsset(w, r)
	default:
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
	}
}

func (p *Page) serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := p.files[strings.TrimPrefix(r.URL.Path, PathAssets)]
	if !ok {
		writeError(w, http.StatusNotFound, "no such asset: "+r.URL.Path)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("ETag", a.etag)
	// The page links each asset with its hash: that URL can be cached for
	// good. Any other is revalidated with the ETag.
	if r.URL.Query().Get("v") == a.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

func (p *Page) serveIndex(w http.ResponseWriter, r *http.Request) {
	// A fresh snapshot rather than the last event's: that one keeps the
	// time of the last change, and the page says when it was taken.
	var b bytes.Buffer
	if err := p.index.Execute(&b, p.opts.Source.Snapshot()); err != nil {
		p.log.Error("statuspage: rendering the page", "err", err)
		writeError(w, http.StatusInternalServerError, "rendering the page failed")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store") // it is the state of the moment
	w.Write(b.Bytes())
}

// serveEvents streams events until the client leaves, falls behind, or the
// page stops.
func (p *Page) serveEvents(w http.ResponseWriter, r *http.Request) {
	c, last, ok := p.subscribe()
	if !ok {
		w.Header().Set("Retry-After", "10")
		writeError(w, http.StatusServiceUnavailable, "too many event streams; try again later")
		return
	}
	defer p.unsubscribe(c)
	rc := http.NewResponseController(w)
	// The server's read and write timeouts are meant for requests, not for
	// a stream that lasts hours; each write gets its own deadline instead.
	// Errors: a writer without deadlines (a test recorder) is fine.
	_ = rc.SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	var buf bytes.Buffer
	write := func(evs ...event) error {
		buf.Reset()
		for _, ev := range evs {
			ev.writeTo(&buf)
		}
		_ = rc.SetWriteDeadline(time.Now().Add(p.opts.WriteTimeout))
		if _, err := w.Write(buf.Bytes()); err != nil {
			return err
		}
		return rc.Flush()
	}
	// A reconnecting client that already has the latest snapshot gets
	// only what follows; any other gets the latest at once.
	first := []event{{retry: 3000}}
	if last.data == nil {
		// Run has published nothing yet: take a snapshot for this client.
		if data, err := encode(p.opts.Source.Snapshot()); err == nil {
			last = event{name: "snapshot", id: p.epoch + "-0", data: data}
		}
	}
	if last.data != nil && r.Header.Get("Last-Event-ID") != last.id {
		first = append(first, last)
	}
	if err := write(first...); err != nil {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-c.gone:
			return
		case ev := <-c.ch:
			if err := write(ev); err != nil {
				return
			}
		}
	}
}

// writeTo encodes ev in the text/event-stream format (HTML Living
// Standard, "Server-sent events"). data is one line of compact JSON.
func (ev event) writeTo(b *bytes.Buffer) {
	if ev.retry > 0 {
		fmt.Fprintf(b, "retry: %d\n\n", ev.retry)
		return
	}
	if ev.id != "" {
		b.WriteString("id: " + ev.id + "\n")
	}
	b.WriteString("event: " + ev.name + "\ndata: ")
	b.Write(ev.data)
	b.WriteString("\n\n")
}
