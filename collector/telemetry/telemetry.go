// Package telemetry keeps what the edges report, per edge node and device:
// for every series a short history of recent points, from which the
// correlation reads current values, maxima and counter rates. Data of an
// edge that died is forgotten at once, so a silent edge reads as no data,
// never as cool.
//
// Memory is bounded twice: each series keeps a fixed ring of points, and
// the number of series is capped, because names arrive from the network.
package telemetry

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rackwatch/rackwatch/edge/sample"
)

// History is the number of points kept per series: at a 10 s poll, a few
// minutes, enough for rates over the correlation windows.
const History = 32

type deviceKey struct{ edge, device string }

type point struct {
	ts int64 // unix nanoseconds
	v  sample.Value
}

type series struct {
	metric string
	labels sample.Labels
	unit   string
	ring   [History]point
	head   int // next write position
	n      int
}

func (s *series) last() (point, bool) {
	if s.n == 0 {
		return point{}, false
	}
	return s.ring[(s.head+History-1)%History], true
}

// points calls f for each point from oldest to newest.
func (s *series) points(f func(point)) {
	start := (s.head + History - s.n) % History
	for i := 0; i < s.n; i++ {
		f(s.ring[(start+i)%History])
	}
}

type device struct {
	// index finds series without building their names, so a lookup
	// allocates nothing: every series sits under its metric and each of
	// its labels (name and value), or under its metric alone when it has
	// no labels. A query by metric and label reads one bucket rather than
	// the hundreds of series a switch has; series that share a key sit in
	// one bucket, told apart by their labels.
	index map[seriesKey][]*series
	// byMetric lists the series of each metric, in creation order.
	byMetric map[string][]*series
	// order is the series of the last Add, in the order of its samples:
	// an edge publishes a device's series in the same order every poll,
	// so the next Add finds most of them without a map lookup.
	order []*series
	n     int
}

type seriesKey struct{ metric, name, value string }

func (d *device) find(metric string, ls sample.Labels) *series {
	k := seriesKey{metric: metric}
	if len(ls) > 0 {
		k.name, k.value = ls[0].Name, ls[0].Value
	}
	for _, sr := range d.index[k] {
		if slices.Equal(sr.labels, ls) {
			return sr
		}
	}
	return nil
}

func (d *device) insert(sr *series) {
	if len(sr.labels) == 0 {
		k := seriesKey{metric: sr.metric}
		d.index[k] = append(d.index[k], sr)
	}
	for _, l := range sr.labels {
		k := seriesKey{sr.metric, l.Name, l.Value}
		d.index[k] = append(d.index[k], sr)
	}
	d.byMetric[sr.metric] = append(d.byMetric[sr.metric], sr)
	d.n++
}

// maxOrder bounds the order remembered per device: a message's sample
// count comes from the network.
const maxOrder = 1 << 14

// lookup finds the series of the i-th sample of an Add.
func (d *device) lookup(i int, smp *sample.Sample) *series {
	if i < len(d.order) {
		if sr := d.order[i]; sr != nil && sr.metric == smp.Metric && slices.Equal(sr.labels, smp.Labels) {
			return sr
		}
	}
	return d.find(smp.Metric, smp.Labels)
}

func (d *device) all(f func(*series)) {
	for _, b := range d.byMetric {
		for _, sr := range b {
			f(sr)
		}
	}
}

// each calls f for every series of d that m matches: from the index when
// m requires values of a label, else from the metric's list.
func (d *device) each(m Match, f func(*series)) {
	if name, vals, ok := m.indexed(); ok {
		for i, v := range vals {
			if slices.Contains(vals[:i], v) {
				continue // each series once
			}
			for _, sr := range d.index[seriesKey{m.Metric, name, v}] {
				// A series with the label twice sits in two buckets;
				// it counts in the one of the value it reads as.
				if sr.labels.Get(name) == v && m.matches(sr) {
					f(sr)
				}
			}
		}
		return
	}
	for _, sr := range d.byMetric[m.Metric] {
		if m.matches(sr) {
			f(sr)
		}
	}
}

// Store is safe for concurrent use.
type Store struct {
	mu        sync.RWMutex
	devices   map[deviceKey]*device
	edges     map[string]map[string]bool // device names by edge
	maxSeries int
	count     int
	dropped   atomic.Uint64
}

// New returns a store that keeps at most maxSeries series (0 means 1<<17);
// beyond that new series are dropped and counted.
func New(maxSeries int) *Store {
	if maxSeries <= 0 {
		maxSeries = 1 << 17
	}
	return &Store{devices: map[deviceKey]*device{}, edges: map[string]map[string]bool{}, maxSeries: maxSeries}
}

// Add records samples reported by edge for device. A sample older than the
// series' newest point is dropped: replayed history never rewrites the
// present.
func (s *Store) Add(edge, dev string, samples []sample.Sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := deviceKey{edge, dev}
	d := s.devices[k]
	if d == nil {
		d = &device{index: map[seriesKey][]*series{}, byMetric: map[string][]*series{}}
		s.devices[k] = d
		if s.edges[edge] == nil {
			s.edges[edge] = map[string]bool{}
		}
		s.edges[edge][dev] = true
	}
	order := len(samples) <= maxOrder
	if !order {
		d.order = nil
	} else if len(d.order) < len(samples) {
		d.order = append(d.order, make([]*series, len(samples)-len(d.order))...)
	}
	for i := range samples {
		smp := &samples[i]
		sr := d.lookup(i, smp)
		if sr == nil {
			if s.count >= s.maxSeries {
				s.dropped.Add(1)
				if order {
					d.order[i] = nil
				}
				continue
			}
			s.count++
			sr = &series{metric: smp.Metric, labels: smp.Labels, unit: smp.Unit}
			d.insert(sr)
		}
		if order {
			d.order[i] = sr
		}
		ts := smp.TS.UnixNano()
		if last, ok := sr.last(); ok && ts < last.ts {
			continue
		}
		sr.ring[sr.head] = point{ts, smp.Value}
		sr.head = (sr.head + 1) % History
		sr.n = min(sr.n+1, History)
	}
}

// Dropped counts samples of new series refused because the store was full.
func (s *Store) Dropped() uint64 { return s.dropped.Load() }

// ForgetDevice drops what is known about one device (on a DDEATH).
func (s *Store) ForgetDevice(edge, dev string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := deviceKey{edge, dev}
	if d := s.devices[k]; d != nil {
		s.count -= d.n
		delete(s.devices, k)
		delete(s.edges[edge], dev)
		if len(s.edges[edge]) == 0 {
			delete(s.edges, edge)
		}
	}
}

// ForgetEdge drops what is known about every device of an edge (on an
// NDEATH).
func (s *Store) ForgetEdge(edge string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for dev := range s.edges[edge] {
		k := deviceKey{edge, dev}
		s.count -= s.devices[k].n
		delete(s.devices, k)
	}
	delete(s.edges, edge)
}

// Latest returns the latest sample of every series of a device, sorted by
// series.
func (s *Store) Latest(edge, dev string) []sample.Sample {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.devices[deviceKey{edge, dev}]
	if d == nil {
		return nil
	}
	out := make([]sample.Sample, 0, d.n)
	d.all(func(sr *series) {
		if p, ok := sr.last(); ok {
			out = append(out, sample.Sample{Metric: sr.metric, Labels: sr.labels, Unit: sr.unit, Value: p.v, TS: time.Unix(0, p.ts)})
		}
	})
	slices.SortFunc(out, func(a, b sample.Sample) int { return strings.Compare(a.Series(), b.Series()) })
	return out
}

// Match selects series of one metric by label values; an empty value list
// for a label, or a label absent from Labels, matches anything.
type Match struct {
	Metric string
	// Labels restricts a label to a set of values.
	Labels map[string][]string
}

func (m Match) matches(sr *series) bool {
	if sr.metric != m.Metric {
		return false
	}
	for name, vals := range m.Labels {
		if len(vals) > 0 && !slices.Contains(vals, sr.labels.Get(name)) {
			return false
		}
	}
	return true
}

// indexed returns a label whose values m requires, when the index can
// find every series that has one of them: a series without the label
// reads as the value "", which the index does not hold.
func (m Match) indexed() (string, []string, bool) {
	for name, vals := range m.Labels {
		if len(vals) > 0 && !slices.Contains(vals, "") {
			return name, vals, true
		}
	}
	return "", nil, false
}

func (s *Store) each(edge, dev string, m Match, f func(*series)) {
	d := s.devices[deviceKey{edge, dev}]
	if d == nil {
		return
	}
	d.each(m, func(sr *series) {
		if sr.n > 0 {
			f(sr)
		}
	})
}

// Value is a gauge reading.
type Value struct {
	V float64
	// Labels are the labels of the series the value came from.
	Labels sample.Labels
	// At is when it was measured.
	At time.Time
}

// Max returns the largest latest value among the matching series of a
// device. Values older than since are no data. NaN (a sensor that reported
// no value) is skipped.
func (s *Store) Max(edge, dev string, m Match, since time.Time) (Value, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var best Value
	ok := false
	s.each(edge, dev, m, func(sr *series) {
		p, _ := sr.last()
		v := p.v.Float()
		if v != v || p.ts < since.UnixNano() {
			return
		}
		if !ok || v > best.V {
			best, ok = Value{V: v, Labels: sr.labels, At: time.Unix(0, p.ts)}, true
		}
	})
	return best, ok
}

// Rate is a counter's increase over a window.
type Rate struct {
	// PerSecond is the summed rate of the matching series.
	PerSecond float64
	// Increase is the summed increase.
	Increase float64
	// Span is the time the oldest and newest points used are apart.
	Span time.Duration
}

// Rate sums the increase of the matching counters over the points newer
// than now−window. A counter that goes down was reset (a device reboot, a
// counter discontinuity): the interval across the reset counts from zero,
// never as a negative or a wrap-sized spike. ok is false with fewer than two
// points in the window.
func (s *Store) Rate(edge, dev string, m Match, now time.Time, window time.Duration) (Rate, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	from := now.Add(-window).UnixNano()
	var r Rate
	ok := false
	s.each(edge, dev, m, func(sr *series) {
		var first, prev point
		var inc float64
		n := 0
		sr.points(func(p point) {
			if p.ts < from {
				return
			}
			if n == 0 {
				first = p
			} else {
				d := p.v.Float() - prev.v.Float()
				if d < 0 {
					d = p.v.Float() // reset: count from zero
				}
				inc += d
			}
			prev = p
			n++
		})
		if n < 2 {
			return
		}
		span := time.Duration(prev.ts - first.ts)
		if span <= 0 {
			return
		}
		ok = true
		r.Increase += inc
		r.PerSecond += inc / span.Seconds()
		r.Span = max(r.Span, span)
	})
	return r, ok
}

// Changes counts how often the matching gauges changed value within the
// window (a link going down and up is two changes), summed over series.
func (s *Store) Changes(edge, dev string, m Match, now time.Time, window time.Duration) (int, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	from := now.Add(-window).UnixNano()
	total, ok := 0, false
	s.each(edge, dev, m, func(sr *series) {
		var prev sample.Value
		have := false
		sr.points(func(p point) {
			if have && p.ts >= from && p.v != prev {
				total++
			}
			prev, have = p.v, true
		})
		ok = true
	})
	return total, ok
}

// Devices lists the devices of an edge that have data.
func (s *Store) Devices(edge string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for dev := range s.edges[edge] {
		out = append(out, dev)
	}
	slices.Sort(out)
	return out
}

// Find calls f with the latest sample of every matching series of a
// device, until f returns false.
func (s *Store) Find(edge, dev string, m Match, f func(sample.Sample) bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.devices[deviceKey{edge, dev}]
	if d == nil {
		return
	}
	stop := false
	d.each(m, func(sr *series) {
		if stop {
			return
		}
		if p, ok := sr.last(); ok {
			stop = !f(sample.Sample{Metric: sr.metric, Labels: sr.labels, Unit: sr.unit, Value: p.v, TS: time.Unix(0, p.ts)})
		}
	})
}
