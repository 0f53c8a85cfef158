package influx

import (
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
	// Logger receives write errors; nil discards them.
	Logger *slog.Logger
}

// DefaultOpts holds the value of every Opts field left at zero.
var DefaultOpts = Opts{
	URL:           "http://127.0.0.1:8086",
	Database:      "rackwatch",
	BatchSize:     1000,
	FlushInterval: time.Second,
	QueueSize:     10000,
	Timeout:       10 * time.Second,
}

// String describes o without its password.
func (o Opts) String() string {
	pw := ""
	if o.Password != "" {
		pw = "<secret>"
	}
	return fmt.Sprintf("{URL:%s Database:%s RetentionPolicy:%s Username:%s Password:%s BatchSize:%d FlushInterval:%s QueueSize:%d Timeout:%s}",
		o.URL, o.Database, o.RetentionPolicy, o.Username, pw, o.BatchSize, o.FlushInterval, o.QueueSize, o.Timeout)
}

// withDefaults returns a copy of o (which may be nil) with zero fields set
// from DefaultOpts, and checks it.
func (o *Opts) withDefaults() (Opts, error) {
	var c Opts
	if o != nil {
		c = *o
	}
	d := DefaultOpts
	if c.URL == "" {
		c.URL = d.URL
	}
	if c.Database == "" {
		c.Database = d.Database
	}
	if c.BatchSize == 0 {
		c.BatchSize = d.BatchSize
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = d.FlushInterval
	}
	if c.QueueSize == 0 {
		c.QueueSize = d.QueueSize
	}
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}

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
	return c, nil
}

// Decision is a drain or restore decision the collector took.
type Decision struct {
	TS time.Time
	// Node is the node the decision concerns.
	Node string
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

// Sink writes samples and decisions to InfluxDB. Its methods are safe for
// concurrent use.
type Sink struct {
	client influxdb2.Client
	wapi   api.WriteAPI
	log    *slog.Logger
	now    func() time.Time

	mu     sync.RWMutex // guards closed against the close of queue
	closed bool
	queue  chan *write.Point

	pumpDone chan struct{}
	errsDone chan struct{}

	errors  atomic.Uint64
	dropped atomic.Uint64

	// Owned by the error goroutine until errsDone is closed.
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
		SetHTTPRequestTimeout(uint(o.Timeout / time.Second))
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

	s := &Sink{
		client:   client,
		wapi:     wapi,
		log:      log,
		now:      now,
		queue:    make(chan *write.Point, o.QueueSize),
		pumpDone: make(chan struct{}),
		errsDone: make(chan struct{}),
	}
	// Errors must be subscribed to before the first write.
	errs := wapi.Errors()
	go s.watchErrors(errs)
	go s.pump()
	return s, nil
}

// pump feeds queued points to the WriteAPI, which may block it while a
// batch is being sent; the queue absorbs that.
func (s *Sink) pump() {
	defer close(s.pumpDone)
	for p := range s.queue {
		s.wapi.WritePoint(p)
	}
}

// watchErrors counts the WriteAPI's errors until the WriteAPI closes its
// error channel.
func (s *Sink) watchErrors(errs <-chan error) {
	defer close(s.errsDone)
	for err := range errs {
		err = explain(err)
		n := s.errors.Add(1)
		s.lastErr, s.lastErrLogged = err, false
		t := s.now()
		if !s.lastLog.IsZero() && t.Sub(s.lastLog) < errorLogInterval {
			s.suppressed++
			continue
		}
		s.log.Warn("influx: write failed", "err", err, "errors_total", n, "suppressed", s.suppressed)
		s.lastLog, s.lastErrLogged, s.suppressed = t, true, 0
	}
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

// Errors returns the number of failed writes the client reported.
func (s *Sink) Errors() uint64 { return s.errors.Load() }

// Dropped returns the number of samples and decisions that were never
// handed to the client: the queue was full, the Sink was closed, or the
// value cannot be stored in InfluxDB 1.8 (NaN, infinity, a counter above
// 2^63-1).
func (s *Sink) Dropped() uint64 { return s.dropped.Load() }

// Close writes what is queued, flushes the client's buffers and stops the
// Sink's goroutines. Later writes are dropped. It may block for the length
// of the final requests (bounded by Opts.Timeout each).
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
	// Close flushes the WriteAPI and closes its error channel.
	s.client.Close()
	<-s.errsDone
	if s.lastErr != nil && !s.lastErrLogged {
		s.log.Warn("influx: write failed", "err", s.lastErr, "errors_total", s.errors.Load(), "suppressed", s.suppressed)
	}
}
