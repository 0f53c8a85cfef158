package sparkplug

import (
	"errors"
	"fmt"
	"time"

	"github.com/rackwatch/rackwatch/edge/sample"
	pb "github.com/rackwatch/rackwatch/edge/sparkplug/sparkplugpb"
	"google.golang.org/protobuf/proto"
)

// HostOpts bounds what a Host keeps. Every map a Host holds is keyed by
// names that arrive from the network, so each has a cap; zero means the
// default in parentheses.
type HostOpts struct {
	MaxEdges           int // (1024)
	MaxDevicesPerEdge  int // (256)
	MaxSeriesPerDevice int // (4096)
}

// Host is the primary host application's view of the edges: it decodes
// payloads against the aliases each edge was born with, follows births and
// deaths, and accounts for loss and duplicates with seq and the 64-bit sample
// sequence. It is not safe for concurrent use.
type Host struct {
	opts  HostOpts
	edges map[edgeKey]*edgeState
	// data is the last data message decoded, reused so that decoding
	// allocates nothing per metric.
	data wirePayload
}

type edgeKey struct{ group, edge string }

// EdgeStats is the loss accounting of one edge node.
type EdgeStats struct {
	Births, Deaths uint64
	// SeqGaps counts messages missed according to seq (0–255).
	SeqGaps uint64
	// Samples counts samples accepted; SamplesLost those never received
	// according to the sample sequence; SamplesDuplicate those dropped as
	// already seen.
	Samples, SamplesLost, SamplesDuplicate uint64
	// Online is false after an NDEATH matching the current birth.
	Online bool
	// LastSeen is when the last message from the edge was handled.
	LastSeen time.Time
}

type seriesInfo struct {
	metric string
	labels sample.Labels
	unit   string
	dt     pb.DataType
	seq    bool // the rackwatch/sample_seq metric
	clock  bool // the rackwatch/clock_unsynced metric
}

type edgeState struct {
	stats      EdgeStats
	numbered   bool // nextSample is known
	bdSeq      uint64
	born       bool
	lastSeq    uint8
	nextSample uint64
	nodeSeries map[uint64]*seriesInfo
	devices    map[string]map[uint64]*seriesInfo
}

// Update is what one message changed.
type Update struct {
	Topic Topic
	// Samples are the values carried, after dropping duplicates. For births
	// they are the device's current state rather than new samples.
	Samples []sample.Sample
	// Rebirth is set when the host cannot decode the edge's data without new
	// births (unknown alias, data before birth) and should send RebirthRequest.
	Rebirth bool
	// SeqGap is the number of messages missed right before this one.
	SeqGap int
	// Lost and Duplicates account for this message's samples.
	Lost, Duplicates uint64
	// ClockUnsynced is set when the edge built the message while its clock
	// was not synchronised (rackwatch/clock_unsynced = true): the samples'
	// timestamps may be wrong by anything from seconds to years, so the
	// time of arrival is the better estimate of when live samples were
	// taken.
	ClockUnsynced bool
}

// Errors a Host returns for payloads it cannot use.
var (
	ErrMalformed    = errors.New("malformed payload")
	ErrUnknownAlias = errors.New("metric alias not in the birth")
	ErrTooMany      = errors.New("limit reached")
)

// NewHost returns an empty Host.
func NewHost(opts HostOpts) *Host {
	if opts.MaxEdges <= 0 {
		opts.MaxEdges = 1024
	}
	if opts.MaxDevicesPerEdge <= 0 {
		opts.MaxDevicesPerEdge = 256
	}
	if opts.MaxSeriesPerDevice <= 0 {
		opts.MaxSeriesPerDevice = 4096
	}
	return &Host{opts: opts, edges: map[edgeKey]*edgeState{}}
}

// Stats returns the accounting of one edge node.
func (h *Host) Stats(group, edge string) (EdgeStats, bool) {
	e, ok := h.edges[edgeKey{group, edge}]
	if !ok {
		return EdgeStats{}, false
	}
	return e.stats, true
}

// Handle decodes one message received at now. An error names the topic; the
// Update is still meaningful when it asks for a rebirth.
func (h *Host) Handle(topic string, payload []byte, now time.Time) (Update, error) {
	t, err := ParseTopic(topic)
	if err != nil {
		return Update{}, err
	}
	u := Update{Topic: t}
	if t.Type == STATE || t.Type == NCMD || t.Type == DCMD {
		return u, nil // commands and host state are not edge data
	}
	var p pb.Payload
	isData := t.Type == NDATA || t.Type == DDATA
	if !isData || !h.data.decode(payload) {
		if err := proto.Unmarshal(payload, &p); err != nil {
			return u, fmt.Errorf("sparkplug: %s: %w: %w", topic, ErrMalformed, err)
		}
		if isData {
			h.data.fromPB(&p)
		}
	}
	key := edgeKey{t.Group, t.EdgeNode}
	e, ok := h.edges[key]
	if !ok {
		if len(h.edges) >= h.opts.MaxEdges {
			return u, fmt.Errorf("sparkplug: %s: %w: %d edges", topic, ErrTooMany, len(h.edges))
		}
		e = &edgeState{}
		h.edges[key] = e
	}
	e.stats.LastSeen = now
	switch t.Type {
	case NBIRTH:
		err = h.nodeBirth(e, &p, &u)
	case NDEATH:
		if bd, ok := findLong(&p, MetricBdSeq); ok && e.born && bd == e.bdSeq {
			e.stats.Online = false
			e.stats.Deaths++
			e.born = false
		}
	case DBIRTH:
		err = h.deviceBirth(e, t.Device, &p, &u)
	case DDEATH:
		if e.born {
			h.checkSeq(e, p.Seq != nil, p.GetSeq(), &u)
			delete(e.devices, t.Device)
		}
	case NDATA, DDATA:
		err = h.dataMessage(e, t, &h.data, &u)
	}
	if err != nil {
		return u, fmt.Errorf("sparkplug: %s: %w", topic, err)
	}
	return u, nil
}

func findLong(p *pb.Payload, name string) (uint64, bool) {
	for _, m := range p.GetMetrics() {
		if m.GetName() == name {
			if v, ok := m.Value.(*pb.Payload_Metric_LongValue); ok {
				return v.LongValue, true
			}
		}
	}
	return 0, false
}

func (h *Host) nodeBirth(e *edgeState, p *pb.Payload, u *Update) error {
	bd, ok := findLong(p, MetricBdSeq)
	if !ok || p.Seq == nil {
		return fmt.Errorf("%w: NBIRTH without bdSeq or seq", ErrMalformed)
	}
	e.bdSeq, e.born, e.lastSeq = bd, true, uint8(p.GetSeq())
	e.stats.Births++
	e.stats.Online = true
	e.devices = map[string]map[uint64]*seriesInfo{}
	e.nodeSeries = map[uint64]*seriesInfo{}
	series, err := h.birthSeries(p, e, u)
	if err != nil {
		return err
	}
	e.nodeSeries = series
	return nil
}

func (h *Host) deviceBirth(e *edgeState, device string, p *pb.Payload, u *Update) error {
	if !e.born {
		u.Rebirth = true
		return fmt.Errorf("%w: DBIRTH before NBIRTH", ErrUnknownAlias)
	}
	if _, ok := e.devices[device]; !ok && len(e.devices) >= h.opts.MaxDevicesPerEdge {
		return fmt.Errorf("%w: %d devices", ErrTooMany, len(e.devices))
	}
	h.checkSeq(e, p.Seq != nil, p.GetSeq(), u)
	series, err := h.birthSeries(p, e, u)
	if err != nil {
		return err
	}
	e.devices[device] = series
	return nil
}

// birthSeries records the aliases a birth defines and returns its values as
// state samples.
func (h *Host) birthSeries(p *pb.Payload, e *edgeState, u *Update) (map[uint64]*seriesInfo, error) {
	if len(p.GetMetrics()) > h.opts.MaxSeriesPerDevice {
		return nil, fmt.Errorf("%w: %d metrics in a birth", ErrTooMany, len(p.GetMetrics()))
	}
	series := make(map[uint64]*seriesInfo, len(p.GetMetrics()))
	for _, m := range p.GetMetrics() {
		name := m.GetName()
		if name == "" {
			return nil, fmt.Errorf("%w: birth metric without a name", ErrMalformed)
		}
		dt := pb.DataType(m.GetDatatype())
		if name == MetricSampleSeq {
			if v, ok := m.Value.(*pb.Payload_Metric_LongValue); ok {
				h.resync(e, v.LongValue, u)
			}
		}
		info := &seriesInfo{dt: dt, seq: name == MetricSampleSeq, clock: name == MetricClockUnsynced}
		info.metric, info.labels, info.unit = seriesFromBirth(m)
		if m.Alias != nil {
			series[m.GetAlias()] = info
		}
		if info.clock {
			if v, ok := m.Value.(*pb.Payload_Metric_BooleanValue); ok && v.BooleanValue {
				u.ClockUnsynced = true
			}
			continue
		}
		if info.seq || name == MetricBdSeq || name == MetricRebirth {
			continue
		}
		v, err := value(m, dt)
		if err != nil {
			return nil, fmt.Errorf("%w: metric %q: %w", ErrMalformed, name, err)
		}
		u.Samples = append(u.Samples, sample.Sample{
			Metric: info.metric, Labels: info.labels, Unit: info.unit, Value: v, TS: tsOf(m, p),
		})
	}
	return series, nil
}

// resync takes the sample number a birth announces. Numbers skipped since
// the last data are samples the edge produced and the host never received.
func (h *Host) resync(e *edgeState, next uint64, u *Update) {
	if e.numbered && next > e.nextSample {
		u.Lost += next - e.nextSample
		e.stats.SamplesLost += next - e.nextSample
	}
	if !e.numbered || next > e.nextSample {
		e.nextSample = next
	}
	e.numbered = true
}

func tsOf(m *pb.Payload_Metric, p *pb.Payload) time.Time {
	return wireTS(m.Timestamp != nil, m.GetTimestamp(), p.GetTimestamp())
}

// wireTS is a metric's timestamp, else its payload's (spec §6.4.5).
func wireTS(has bool, metric, payload uint64) time.Time {
	if has {
		return time.UnixMilli(int64(metric)).UTC()
	}
	return time.UnixMilli(int64(payload)).UTC()
}

// checkSeq compares seq with the last one seen; any skip means messages
// were lost in between (spec §7.4: seq increments by one per message).
func (h *Host) checkSeq(e *edgeState, has bool, seq uint64, u *Update) {
	if !has {
		return
	}
	got := uint8(seq)
	d := got - e.lastSeq
	if d == 0 || d > 128 {
		// A redelivery (QoS 1 may deliver twice) or a late message: no gap,
		// and the sample sequence decides what is a duplicate.
		return
	}
	if d > 1 {
		u.SeqGap = int(d - 1)
		e.stats.SeqGaps += uint64(d - 1)
	}
	e.lastSeq = got
}

func (h *Host) dataMessage(e *edgeState, t Topic, p *wirePayload, u *Update) error {
	if !e.born {
		u.Rebirth = true
		return fmt.Errorf("%w: data before NBIRTH", ErrUnknownAlias)
	}
	series := e.nodeSeries
	if t.Device != "" {
		var ok bool
		if series, ok = e.devices[t.Device]; !ok {
			u.Rebirth = true
			return fmt.Errorf("%w: device %q has no DBIRTH", ErrUnknownAlias, t.Device)
		}
	}
	h.checkSeq(e, p.hasSeq, p.seq, u)
	var first uint64
	haveFirst := false
	samples := make([]sample.Sample, 0, len(p.metrics))
	for i := range p.metrics {
		m := &p.metrics[i]
		info, ok := series[m.alias]
		if !m.hasAlias || !ok {
			u.Rebirth = true
			return fmt.Errorf("%w: alias %d", ErrUnknownAlias, m.alias)
		}
		v, err := m.value(info.dt)
		if err != nil {
			return fmt.Errorf("%w: alias %d: %w", ErrMalformed, m.alias, err)
		}
		if info.seq {
			first, haveFirst = v.Uint(), true
			continue
		}
		if info.clock {
			u.ClockUnsynced = u.ClockUnsynced || v.Bool()
			continue
		}
		samples = append(samples, sample.Sample{
			Metric: info.metric, Labels: info.labels, Unit: info.unit, Value: v, TS: wireTS(m.hasTS, m.ts, p.ts),
		})
	}
	if !haveFirst {
		// An edge that does not number its samples: nothing to audit.
		u.Samples = samples
		e.stats.Samples += uint64(len(samples))
		return nil
	}
	n := uint64(len(samples))
	if !e.numbered {
		e.nextSample, e.numbered = first, true
	}
	switch {
	case first+n <= e.nextSample:
		u.Duplicates = n
		samples = nil
	case first < e.nextSample:
		u.Duplicates = e.nextSample - first
		samples = samples[u.Duplicates:]
	case first > e.nextSample:
		u.Lost = first - e.nextSample
	}
	if first+n > e.nextSample {
		e.nextSample = first + n
	}
	e.stats.SamplesLost += u.Lost
	e.stats.SamplesDuplicate += u.Duplicates
	e.stats.Samples += uint64(len(samples))
	u.Samples = samples
	return nil
}
