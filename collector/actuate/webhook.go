package actuate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rackwatch/rackwatch/collector/decide"
)

// WebhookOpts configures a Webhook.
type WebhookOpts struct {
	// Name identifies the webhook in events and logs; "webhook" if empty.
	Name string
	// URL receives the POSTs; http or https. Required.
	URL string
	// Timeout bounds one attempt; zero means 5s.
	Timeout time.Duration
	// TokenFile holds a bearer token, sent as "Authorization: Bearer
	// <token>". It is read at every apply, so a rotated token needs no
	// restart, and it is never logged. Empty sends no Authorization.
	TokenFile string
	// Client sends the requests; nil means a client with no timeout of
	// its own (Timeout bounds each attempt).
	Client  *http.Client
	Backoff Backoff
	Now     func() time.Time
	Logger  *slog.Logger
}

// WebhookStats count a webhook's work.
type WebhookStats struct {
	Sent    uint64 // applies the receiver accepted (2xx)
	Failed  uint64 // applies that failed after their retries
	Retries uint64
}

// Webhook posts each desired state as JSON to a URL, for systems the
// collector cannot steer directly (a cloud load balancer, a ticketing
// hook). The body is
//
//	{"target":{"node":"n7","lb":"lb1","backend":"api","server":"n7"},
//	 "desired":{"state":"ready","weight_percent":50},
//	 "version":1795700047123,
//	 "decision":{...}}
//
// where decision is the decide.Decision attached with WithDecision, absent
// on re-applications. Each apply carries a new version, increasing per
// target; its retries repeat the same body and the header
// "Idempotency-Key: <node>/<lb>/<backend>/<server>/<state>/<version>", so
// the receiver can drop a retry of a request it already took. A 2xx is
// success; 408, 429, 5xx and transport errors (timeouts) are retried with
// backoff; any other status is a permanent failure.
type Webhook struct {
	opts     WebhookOpts
	url      *url.URL
	versions *versions

	sent, failed, retries atomic.Uint64
}

var _ Actuator = (*Webhook)(nil)

// NewWebhook returns a Webhook.
func NewWebhook(opts WebhookOpts) (*Webhook, error) {
	if opts.Name == "" {
		opts.Name = "webhook"
	}
	u, err := url.Parse(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("actuate: webhook %s: url: %w", opts.Name, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("actuate: webhook %s: url %q: want http:// or https:// with a host", opts.Name, u.Redacted())
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Webhook{opts: opts, url: u, versions: newVersions(opts.Now, nil)}, nil
}

// Name returns the webhook's name.
func (w *Webhook) Name() string { return w.opts.Name }

// Stats returns the counters.
func (w *Webhook) Stats() WebhookStats {
	return WebhookStats{Sent: w.sent.Load(), Failed: w.failed.Load(), Retries: w.retries.Load()}
}

type webhookTarget struct {
	Node    string `json:"node"`
	LB      string `json:"lb"`
	Backend string `json:"backend"`
	Server  string `json:"server"`
}

type webhookDesired struct {
	State         string `json:"state"` // "drain" or "ready"
	WeightPercent int    `json:"weight_percent"`
}

type webhookBody struct {
	Target   webhookTarget    `json:"target"`
	Desired  webhookDesired   `json:"desired"`
	Version  uint64           `json:"version"`
	Decision *decide.Decision `json:"decision,omitempty"`
}

func stateWord(d decide.Desired) string {
	if d.Drain {
		return StatusDrain
	}
	return StatusReady
}

func targetKey(t decide.Target) string {
	return t.Node + "/" + t.LB + "/" + t.Backend + "/" + t.Server
}

// Apply posts d for t.
func (w *Webhook) Apply(ctx context.Context, t decide.Target, d decide.Desired) error {
	if err := validDesired(d); err != nil {
		return fmt.Errorf("actuate: webhook %s: %s: %w", w.opts.Name, targetKey(t), err)
	}
	body := webhookBody{
		Target:  webhookTarget{Node: t.Node, LB: t.LB, Backend: t.Backend, Server: t.Server},
		Desired: webhookDesired{State: stateWord(d), WeightPercent: d.Weight},
		Version: w.versions.next(targetKey(t)),
	}
	if dec, ok := DecisionFrom(ctx); ok {
		body.Decision = &dec
	}
	data, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("actuate: webhook %s: encode: %w", w.opts.Name, err)
	}
	key := targetKey(t) + "/" + stateWord(d) + "-" + strconv.Itoa(d.Weight) + "/" + strconv.FormatUint(body.Version, 10)
	retries, err := retry(ctx, w.opts.Backoff, func(ctx context.Context) error {
		err := w.post(ctx, data, key)
		if err != nil {
			w.opts.Logger.Debug("webhook attempt failed", "webhook", w.opts.Name, "target", targetKey(t), "err", err)
		}
		return err
	})
	w.retries.Add(uint64(retries))
	if err != nil {
		w.failed.Add(1)
		return fmt.Errorf("actuate: webhook %s: post %s %s to %s after %d tries: %w",
			w.opts.Name, targetKey(t), d, w.url.Redacted(), retries+1, err)
	}
	w.sent.Add(1)
	return nil
}

// post makes one attempt. Errors retrying cannot fix are permanent.
func (w *Webhook) post(ctx context.Context, data []byte, key string) error {
	token, err := w.token()
	if err != nil {
		return permanent(err)
	}
	ctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url.String(), bytes.NewReader(data))
	if err != nil {
		return permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := w.opts.Client.Do(req)
	if err != nil {
		// Transport errors and timeouts: the request may or may not have
		// arrived, which the idempotency key makes safe to retry.
		return err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = &HTTPError{Status: resp.StatusCode, Body: strings.TrimSpace(string(snippet))}
	switch {
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		return err
	}
	return permanent(err)
}

func (w *Webhook) token() (string, error) {
	if w.opts.TokenFile == "" {
		return "", nil
	}
	b, err := os.ReadFile(w.opts.TokenFile)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("token file %s is empty", w.opts.TokenFile)
	}
	if strings.ContainsAny(tok, "\r\n") {
		return "", fmt.Errorf("token file %s holds more than one line", w.opts.TokenFile)
	}
	return tok, nil
}

// HTTPError is a webhook receiver's answer other than 2xx.
type HTTPError struct {
	Status int
	Body   string // the start of the body, for the log
}

func (e *HTTPError) Error() string {
	if e.Body == "" {
		return "status " + strconv.Itoa(e.Status)
	}
	return fmt.Sprintf("status %d: %.200q", e.Status, e.Body)
}
