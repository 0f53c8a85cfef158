package influx

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	http2 "github.com/influxdata/influxdb-client-go/v2/api/http"
	"github.com/influxdata/influxdb-client-go/v2/api/write"
	lp "github.com/influxdata/line-protocol"

	"github.com/rackwatch/rackwatch/edge/sample"
)

// DecisionMeasurement is the measurement decisions are written to.
const DecisionMeasurement = "rackwatch_decision"

// Opts configures a Sink. Zero fields take their value from DefaultOpts.
type Opts struct {
	// URL is the base URL of the InfluxDB HTTP API.
	URL string
	// Database is the InfluxDB 1.x database; it must already exist.
	Database string
	// RetentionPolicy is the policy points are written to; empty means the
	// database's default policy.
	RetentionPolicy string
	// Username and Password authenticate to InfluxDB; leave both empty
	// when authentication is off.
	Username string
	Password string
	// BatchSize is the number of points sent in one request.
	BatchSize uint
	// FlushInterval bounds how long a point waits for its batch to fill.
	FlushInterval time.Duration
	// QueueSize bounds the points waiting for the writer; beyond it,
	// points are dropped and counted.
	QueueSize int
	// Timeout bounds one HTTP request to InfluxDB.
	Timeout time.Duration
	// Gzip compresses write requests: worth it on a slow link to InfluxDB,
	// a cost in CPU on a fast one.
	Gzip bool
	// RetryBuffer bounds the points kept for retrying after a write failed
	// for a reason that may pass (InfluxDB unreachable, HTTP 429 or 5xx).
	// Beyond it the oldest batches are dropped and counted.
	RetryBuffer int
	// RetryInterval is the first wait before a retry; it doubles after
	// each failed retry up to MaxRetryInterval.
	RetryInterval, MaxRetryInterval time.Duration
	// Logger receives write errors; nil discards them.
	Logger *slog.Logger
}

// DefaultOpts holds the value of every Opts field left at zero.
var DefaultOpts = Opts{
	URL:      "http://127.0.0.1:8086",
	Database: "rackwatch",
	// InfluxDB 1.8 takes 5000 points a request about 25 % faster than
	// 1000 (BenchmarkInfluxDBWrite, docs/performance.md); larger batches
	// are faster still but make every request and retry larger.
	BatchSize:     5000,
	FlushInterval: time.Second,
	QueueSize:     10000,
	Timeout:       10 * time.Second,
	// About 10 MB of line protocol (a point is about 100 bytes): 16
	// minutes of an outage at 100 points/s, enough for an InfluxDB restart
	// or upgrade at a site of a few racks.
	RetryBuffer:      100000,
	RetryInterval:    time.Second,
	MaxRetryInterval: 30 * time.Second,
}

// String describes o without its password.
func (o Opts) String() string {
	pw := ""
	if o.Password != "" {
		pw = "<secret>"
	}
	return fmt.Sprintf("{URL:%s Database:%s RetentionPolicy:%s Username:%s Password:%s BatchSize:%d FlushInterval:%s QueueSize:%d Timeout:%s Gzip:%t RetryBuffer:%d RetryInterval:%s MaxRetryInterval:%s}",
		o.URL, o.Database, o.RetentionPolicy, o.Username, pw, o.BatchSize, o.FlushInterval, o.QueueSize, o.Timeout,
		o.Gzip, o.RetryBuffer, o.RetryInterval, o.MaxRetryInterval)
}

// withDefaults returns a copy of o (which may be nil) with zero fields set
// from DefaultOpts, and checks it.
func (o *Opts) withDefaults() (Opts, error) {
	var c Opts
	if o != nil {
		c = *o
	}
	d := DefaultOpts
	c.URL = cmp.Or(c.URL, d.URL)
	c.Database = cmp.Or(c.Database, d.Database)
	c.BatchSize = cmp.Or(c.BatchSize, d.BatchSize)
	c.FlushInterval = cmp.Or(c.FlushInterval, d.FlushInterval)
	c.QueueSize = cmp.Or(c.QueueSize, d.QueueSize)
	c.Timeout = cmp.Or(c.Timeout, d.Timeout)
	c.RetryBuffer = cmp.Or(c.RetryBuffer, d.RetryBuffer)
	c.RetryInterval = cmp.Or(c.RetryInterval, d.RetryInterval)
	c.MaxRetryInterval = cmp.Or(c.MaxRetryInterval, max(d.MaxRetryInterval, c.RetryInterval))

	u, err := url.Parse(c.URL)
	if err != nil {
		return c, fmt.Errorf("influx: url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("influx: url %q: want http:// or https:// and a host", c.URL)
	}
	// The 1.8 compatibility endpoint splits the bucket at its first '/'
	// into database and retention policy.
	if strings.Contains(c.Database, "/") || strings.Contains(c.RetentionPolicy, "/") {
		return c, errors.New("influx: database and retention policy must not contain '/'")
	}
	if c.Password != "" && c.Username == "" {
		return c, errors.New("influx: password set without a username")
	}
	if c.FlushInterval < time.Millisecond {
		return c, fmt.Errorf("influx: flush interval %s: want at least 1ms", c.FlushInterval)
	}
	if c.QueueSize < 0 {
		return c, fmt.Errorf("influx: queue size %d: want a positive size", c.QueueSize)
	}
	if c.Timeout < time.Second {
		return c, fmt.Errorf("influx: timeout %s: want at least 1s", c.Timeout)
	}
	if c.RetryBuffer < 0 {
		return c, fmt.Errorf("influx: retry buffer %d: want a positive size", c.RetryBuffer)
	}
	if c.RetryInterval < time.Millisecond || c.MaxRetryInterval < c.RetryInterval {
		return c, fmt.Errorf("influx: retry interval %s up to %s: want at least 1ms, and a maximum no less", c.RetryInterval, c.MaxRetryInterval)
	}
	return c, nil
}

// Decision is a drain or restore decision the collector took.
type Decision struct {
	TS time.Time
	// Node is the node the decision concerns, Rack its rack.
	Node, Rack string
	// Backend and Server name the load-balancer entry acted on.
	Backend, Server string
	// Action is what was done, such as "drain" or "ready".
	Action string
	// Reason is human-readable text: the evidence behind the decision.
	Reason string
}

// errorLogInterval spaces the log lines about failed writes: while InfluxDB
// is down, every batch fails.
const errorLogInterval = 10 * time.Second

// Sink writes samples, node states, edge births and deaths and decisions
// to InfluxDB. Its methods are safe for concurrent use.
type Sink struct {
	o        Opts
	client   influxdb2.Client
	wapi     api.WriteAPI
	blocking api.WriteAPIBlocking // for retries, which must know the outcome
	log      *slog.Logger
	now      func() time.Time

	mu     sync.RWMutex // guards closed against the close of queue
	closed bool
	queue  chan *write.Point

	retry       retryBuffer
	stopRetries context.CancelFunc
	pumpDone    chan struct{}
	errsDone    chan struct{}
	retryDone   chan struct{}

	accepted     atomic.Uint64
	dropped      atomic.Uint64
	errors       atomic.Uint64
	retried      atomic.Uint64
	retryDropped atomic.Uint64

	logMu         sync.Mutex // guards the fields below: errors come from two goroutines
	lastErr       error
	lastErrLogged bool
	lastLog       time.Time
	suppressed    uint64
}

// New starts a Sink. opts may be nil; zero fields take their defaults. It
// does not contact InfluxDB: a server that is down shows up as write errors.
func New(opts *Opts) (*Sink, error) {
	return newSink(opts, time.Now)
}

func newSink(opts *Opts, now func() time.Time) (*Sink, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}

	co := influxdb2.DefaultOptions().
		SetBatchSize(o.BatchSize).
		SetFlushInterval(uint(o.FlushInterval / time.Millisecond)).
		SetHTTPRequestTimeout(uint(o.Timeout / time.Second)).
		SetUseGZip(o.Gzip)
	token := ""
	if o.Username != "" {
		token = o.Username + ":" + o.Password
	}
	bucket := o.Database
	if o.RetentionPolicy != "" {
		bucket += "/" + o.RetentionPolicy
	}
	client := influxdb2.NewClientWithOptions(o.URL, token, co)
	// InfluxDB 1.8 ignores the organisation.
	wapi := client.WriteAPI("", bucket)

	ctx, cancel := context.WithCancel(context.Background())
	s := &Sink{
		o:           o,
		client:      client,
		wapi:        wapi,
		blocking:    client.WriteAPIBlocking("", bucket),
		log:         log,
		now:         now,
		queue:       make(chan *write.Point, o.QueueSize),
		retry:       retryBuffer{limit: o.RetryBuffer, wake: make(chan struct{}, 1)},
		stopRetries: cancel,
		pumpDone:    make(chan struct{}),
		errsDone:    make(chan struct{}),
		retryDone:   make(chan struct{}),
	}
	// The client's own retry buffer loses points without telling: a batch
	// evicted when it is full, or expired after MaxRetryTime, is only
	// logged, and it retries only when a new batch comes. So every batch
	// that failed for a reason that may pass is taken over here, where
	// the bound is counted, and the client is told to let it go.
	wapi.SetWriteFailedCallback(func(batch string, err http2.Error, _ uint) bool {
		s.failed(&err)
		s.keep(batch)
		return false
	})
	// Errors must be subscribed to before the first write.
	errs := wapi.Errors()
	go s.watchErrors(errs)
	go s.pump()
	go s.retryLoop(ctx)
	return s, nil
}

// pump feeds queued points to the WriteAPI, which may block it while a
// batch is being sent; the queue absorbs that. It encodes the points
// itself with one encoder: WritePoint would build a new one for every
// point, half of the writer's allocations.
func (s *Sink) pump() {
	defer close(s.pumpDone)
	var buf bytes.Buffer
	enc := lp.NewEncoder(&buf)
	enc.FailOnFieldErr(true)
	for p := range s.queue {
		buf.Reset()
		if _, err := enc.Encode(p); err != nil {
			// Only a point without a name or fields gets here, which
			// the Sink never builds.
			s.dropped.Add(1)
			continue
		}
		// WriteRecord ends the line itself.
		s.wapi.WriteRecord(string(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))))
	}
}

// watchErrors counts the WriteAPI's errors until the WriteAPI closes its
// error channel.
//
// The client drops an error when the channel, one deep, is still full, so
// failures it may retry (retryable: the ones it hands to the write-failed
// callback) are counted by that callback, which it calls for every one of
// them; the channel counts the others.
func (s *Sink) watchErrors(errs <-chan error) {
	defer close(s.errsDone)
	for err := range errs {
		if !retryable(err) {
			s.failed(err)
		}
	}
}

// failed counts a failed write request and logs it, at most once per
// errorLogInterval: while InfluxDB is down, every request fails.
func (s *Sink) failed(err error) {
	err = explain(err)
	n := s.errors.Add(1)
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.lastErr, s.lastErrLogged = err, false
	t := s.now()
	if !s.lastLog.IsZero() && t.Sub(s.lastLog) < errorLogInterval {
		s.suppressed++
		return
	}
	s.log.Warn("influx: write failed", "err", err, "retry_buffer_points", s.retry.len(), "errors_total", n, "suppressed", s.suppressed)
	s.lastLog, s.lastErrLogged, s.suppressed = t, true, 0
}

// explain adds InfluxDB 1.8's error text to err. 1.8 answers a failed
// write with {"error": "..."} and an X-Influxdb-Error header, while the
// client only decodes the v2 form {"code": ..., "message": ...}, so without
// this the cause (such as "database not found") is lost.
func explain(err error) error {
	var herr *http2.Error
	if !errors.As(err, &herr) || herr.Message != "" || herr.Header == nil {
		return err
	}
	if msg := herr.Header.Get("X-Influxdb-Error"); msg != "" {
		return fmt.Errorf("%w: %s", err, msg)
	}
	return err
}

// enqueue hands p to the writer, or drops it when the queue is full or the
// Sink is closed.
func (s *Sink) enqueue(p *write.Point) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		s.dropped.Add(1)
		return
	}
	select {
	case s.queue <- p:
		s.accepted.Add(1)
	default:
		s.dropped.Add(1)
	}
}

// WriteSample queues s as a point of the measurement s.Metric, tagged with
// its labels and with edge and device. It never blocks.
func (s *Sink) WriteSample(edge, device string, smp sample.Sample) {
	p, ok := s.samplePoint(edge, device, smp)
	if !ok {
		s.dropped.Add(1)
		return
	}
	s.enqueue(p)
}

// samplePoint builds the point for smp, or reports false when its value
// has no InfluxDB 1.8 representation.
func (s *Sink) samplePoint(edge, device string, smp sample.Sample) (*write.Point, bool) {
	var v any
	switch smp.Value.Kind() {
	case sample.KindFloat:
		f := smp.Value.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, false
		}
		v = f
	case sample.KindUint:
		u := smp.Value.Uint()
		if u > math.MaxInt64 {
			return nil, false
		}
		v = int64(u)
	case sample.KindInt:
		v = smp.Value.Int()
	case sample.KindBool:
		v = smp.Value.Bool()
	default:
		return nil, false
	}
	if smp.Metric == "" {
		return nil, false
	}
	p := write.NewPointWithMeasurement(smp.Metric)
	for _, l := range smp.Labels {
		p.AddTag(l.Name, l.Value)
	}
	// AddTag replaces a tag of the same key: the origin wins over a label.
	// Empty values are left out by the line-protocol encoder.
	p.AddTag("edge", edge)
	p.AddTag("device", device)
	p.SortTags()
	p.AddField("value", v)
	p.SetTime(s.timestamp(smp.TS))
	return p, true
}

// WriteDecision queues d as a point of the measurement rackwatch_decision.
// It never blocks.
func (s *Sink) WriteDecision(d Decision) {
	s.enqueue(s.decisionPoint(d))
}

func (s *Sink) decisionPoint(d Decision) *write.Point {
	p := write.NewPointWithMeasurement(DecisionMeasurement).
		AddTag("action", d.Action).
		AddTag("backend", d.Backend).
		AddTag("node", d.Node).
		AddTag("rack", d.Rack).
		AddTag("server", d.Server).
		AddField("reason", d.Reason).
		AddField("value", int64(1)).
		SetTime(s.timestamp(d.TS))
	return p
}

func (s *Sink) timestamp(t time.Time) time.Time {
	if t.IsZero() {
		return s.now()
	}
	return t
}

// Stats are a Sink's counters, in points unless said otherwise.
type Stats struct {
	// Accepted counts the points taken into the queue for the writer.
	Accepted uint64
	// Dropped counts the points never handed to the writer: the queue was
	// full, the Sink was closed, or the value cannot be stored in InfluxDB
	// 1.8 (NaN, infinity, a counter above 2^63-1).
	Dropped uint64
	// Errors counts failed write requests, retries included.
	Errors uint64
	// RetryBuffered is the number of points waiting to be retried now.
	RetryBuffered int
	// Retried counts the points InfluxDB accepted on a retry.
	Retried uint64
	// RetryDropped counts the points given up after a failed write: beyond
	// the retry buffer's bound, refused by InfluxDB on a retry, or still
	// waiting when the Sink was closed.
	RetryDropped uint64
}

// Stats returns the Sink's counters.
func (s *Sink) Stats() Stats {
	return Stats{
		Accepted:      s.accepted.Load(),
		Dropped:       s.dropped.Load(),
		Errors:        s.errors.Load(),
		RetryBuffered: s.retry.len(),
		Retried:       s.retried.Load(),
		RetryDropped:  s.retryDropped.Load(),
	}
}

// Errors returns the number of failed write requests, retries included.
func (s *Sink) Errors() uint64 { return s.errors.Load() }

// Dropped returns the number of samples and decisions that were never
// handed to the client: the queue was full, the Sink was closed, or the
// value cannot be stored in InfluxDB 1.8 (NaN, infinity, a counter above
// 2^63-1). Points lost after a failed write are Stats().RetryDropped.
func (s *Sink) Dropped() uint64 { return s.dropped.Load() }

// Close writes what is queued, flushes the client's buffers, tries once
// more what waits for a retry, and stops the Sink's goroutines. Later
// writes are dropped. It may block for the length of the final requests
// (bounded by Opts.Timeout each).
func (s *Sink) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.queue)
	s.mu.Unlock()

	<-s.pumpDone
	// Close flushes the WriteAPI and closes its error channel; a final
	// batch that fails lands in the retry buffer.
	s.client.Close()
	<-s.errsDone
	s.stopRetries()
	<-s.retryDone
	s.drainRetries()
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if s.lastErr != nil && !s.lastErrLogged {
		s.log.Warn("influx: write failed", "err", s.lastErr, "errors_total", s.errors.Load(), "suppressed", s.suppressed)
	}
}
