package sparkplug

import (
	"errors"
	"fmt"
	"time"

	"github.com/rackwatch/rackwatch/edge/sample"
	pb "github.com/rackwatch/rackwatch/edge/sparkplug/sparkplugpb"
	"google.golang.org/protobuf/proto"
)

// Message is one MQTT publication produced by a Session.
type Message struct {
	Topic   Topic
	Payload []byte
	// Samples counts the samples the message carries (0 for births and deaths),
	// which is how many sample numbers it consumed.
	Samples int
}

// SessionOpts configures a Session.
type SessionOpts struct {
	Group    string
	EdgeNode string
	// BdSeq is the birth/death sequence of the first connection, 0–255.
	BdSeq uint8
	// MaxSeriesPerDevice bounds the metrics a device may be born with; it
	// stops a misbehaving SNMP agent from growing the session without limit.
	// Zero means 4096.
	MaxSeriesPerDevice int
	Now                func() time.Time
	// ClockSynced reports whether the clock that stamps samples is
	// synchronised; while it is not, data messages carry
	// MetricClockUnsynced = true. nil means always synchronised.
	ClockSynced func() bool
}

// Session is the edge node's side of a Sparkplug session: it assigns aliases,
// keeps seq and bdSeq, and knows what each device was born with so that a
// new series triggers a new DBIRTH before it appears in a DDATA (spec
// §6.4.4: every metric in a DATA message must have been in the BIRTH).
//
// A Session is not safe for concurrent use; the publisher that owns the MQTT
// connection owns it.
type Session struct {
	opts      SessionOpts
	bdSeq     uint8
	seq       uint8
	nextAlias uint64
	devices   map[string]*deviceState
	order     []string // device names in first-seen order, for stable births
	born      bool     // NBIRTH sent on the current connection
}

type deviceState struct {
	aliases  map[string]uint64 // series name → alias
	last     map[string]sample.Sample
	series   []string // series names in first-seen order
	born     bool
	seqAlias uint64
	// clockAlias is the alias of MetricClockUnsynced, 0 until the device
	// first publishes while the clock is unsynchronised: an edge whose
	// clock is always synchronised never sends it.
	clockAlias uint64
}

// ErrTooManySeries is returned when a device exceeds MaxSeriesPerDevice.
var ErrTooManySeries = errors.New("sparkplug: too many series for one device")

// NewSession validates opts and returns a session that has not yet sent its
// births.
func NewSession(opts SessionOpts) (*Session, error) {
	if err := ValidateID(opts.Group); err != nil {
		return nil, fmt.Errorf("sparkplug: group: %w", err)
	}
	if err := ValidateID(opts.EdgeNode); err != nil {
		return nil, fmt.Errorf("sparkplug: edge node: %w", err)
	}
	if opts.MaxSeriesPerDevice <= 0 {
		opts.MaxSeriesPerDevice = 4096
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	// Alias 1 is the node's sample_seq, 2 the rebirth control; device aliases follow.
	return &Session{opts: opts, bdSeq: opts.BdSeq, nextAlias: 3, devices: map[string]*deviceState{}}, nil
}

const (
	aliasNodeSampleSeq = 1
	aliasRebirth       = 2
)

// BdSeq returns the birth/death sequence of the current connection.
func (s *Session) BdSeq() uint8 { return s.bdSeq }

// Will returns the NDEATH to register as the MQTT will of the next
// connection (spec §7.1, tck-id-operational-behavior-edge-node-intentional-disconnect-ndeath).
func (s *Session) Will() (Message, error) {
	p := &pb.Payload{
		Timestamp: msec(s.opts.Now()),
		Metrics: []*pb.Payload_Metric{{
			Name:     proto.String(MetricBdSeq),
			Datatype: proto.Uint32(uint32(pb.DataType_UInt64)),
			Value:    &pb.Payload_Metric_LongValue{LongValue: uint64(s.bdSeq)},
		}},
	}
	b, err := marshal(p)
	return Message{Topic: NodeTopic(s.opts.Group, NDEATH, s.opts.EdgeNode), Payload: b}, err
}

// Reconnected moves the session to a new MQTT connection with birth/death
// sequence bdSeq: births come before any data. Call it before building the
// connection's will.
func (s *Session) Reconnected(bdSeq uint8) {
	s.bdSeq = bdSeq
	s.born = false
	for _, d := range s.devices {
		d.born = false
	}
}

// Births returns the NBIRTH followed by a DBIRTH for every device seen so far,
// each carrying the device's last values. nextSample is the number the next
// sample will get. seq restarts at 0 with the NBIRTH (spec tck-id-payloads-nbirth-seq).
func (s *Session) Births(nextSample uint64) ([]Message, error) {
	now := s.opts.Now()
	s.seq = 0
	p := &pb.Payload{
		Timestamp: msec(now),
		Seq:       proto.Uint64(0),
		Metrics: []*pb.Payload_Metric{
			{
				Name: proto.String(MetricBdSeq), Timestamp: msec(now),
				Datatype: proto.Uint32(uint32(pb.DataType_UInt64)),
				Value:    &pb.Payload_Metric_LongValue{LongValue: uint64(s.bdSeq)},
			},
			{
				Name: proto.String(MetricRebirth), Alias: proto.Uint64(aliasRebirth), Timestamp: msec(now),
				Datatype: proto.Uint32(uint32(pb.DataType_Boolean)),
				Value:    &pb.Payload_Metric_BooleanValue{BooleanValue: false},
			},
			sampleSeqMetric(aliasNodeSampleSeq, nextSample, now, true),
		},
	}
	b, err := marshal(p)
	if err != nil {
		return nil, err
	}
	msgs := []Message{{Topic: NodeTopic(s.opts.Group, NBIRTH, s.opts.EdgeNode), Payload: b}}
	s.born = true
	unsynced := s.clockUnsynced()
	for _, name := range s.order {
		d := s.devices[name]
		if unsynced && d.clockAlias == 0 {
			d.clockAlias = s.alias()
		}
		m, err := s.deviceBirth(name, nextSample, now, unsynced)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

func sampleSeqMetric(alias, v uint64, ts time.Time, withName bool) *pb.Payload_Metric {
	m := &pb.Payload_Metric{
		Alias:     proto.Uint64(alias),
		Timestamp: msec(ts),
		Datatype:  proto.Uint32(uint32(pb.DataType_UInt64)),
		Value:     &pb.Payload_Metric_LongValue{LongValue: v},
	}
	if withName {
		m.Name = proto.String(MetricSampleSeq)
	}
	return m
}

func clockMetric(alias uint64, unsynced bool, ts time.Time, withName bool) *pb.Payload_Metric {
	m := &pb.Payload_Metric{
		Alias:     proto.Uint64(alias),
		Timestamp: msec(ts),
		Datatype:  proto.Uint32(uint32(pb.DataType_Boolean)),
		Value:     &pb.Payload_Metric_BooleanValue{BooleanValue: unsynced},
	}
	if withName {
		m.Name = proto.String(MetricClockUnsynced)
	}
	return m
}

func (s *Session) clockUnsynced() bool {
	return s.opts.ClockSynced != nil && !s.opts.ClockSynced()
}

func (s *Session) alias() uint64 {
	a := s.nextAlias
	s.nextAlias++
	return a
}

func (s *Session) nextSeq() uint64 {
	s.seq++ // wraps 255 → 0 as the spec requires
	return uint64(s.seq)
}

func (s *Session) device(name string) (*deviceState, error) {
	if d, ok := s.devices[name]; ok {
		return d, nil
	}
	if err := ValidateID(name); err != nil {
		return nil, fmt.Errorf("sparkplug: device: %w", err)
	}
	d := &deviceState{aliases: map[string]uint64{}, last: map[string]sample.Sample{}, seqAlias: s.alias()}
	s.devices[name] = d
	s.order = append(s.order, name)
	return d, nil
}

func (s *Session) deviceBirth(name string, nextSample uint64, now time.Time, unsynced bool) (Message, error) {
	d := s.devices[name]
	p := &pb.Payload{
		Timestamp: msec(now),
		Seq:       proto.Uint64(s.nextSeq()),
		Metrics:   make([]*pb.Payload_Metric, 0, len(d.series)+2),
	}
	p.Metrics = append(p.Metrics, sampleSeqMetric(d.seqAlias, nextSample, now, true))
	if d.clockAlias != 0 {
		p.Metrics = append(p.Metrics, clockMetric(d.clockAlias, unsynced, now, true))
	}
	for _, series := range d.series {
		smp := d.last[series]
		m := &pb.Payload_Metric{
			Name:       proto.String(series),
			Alias:      proto.Uint64(d.aliases[series]),
			Timestamp:  msec(smp.TS),
			Properties: birthProperties(smp),
		}
		setValue(m, smp.Value)
		p.Metrics = append(p.Metrics, m)
	}
	b, err := marshal(p)
	if err != nil {
		return Message{}, err
	}
	d.born = true
	return Message{Topic: DeviceTopic(s.opts.Group, DBIRTH, s.opts.EdgeNode, name), Payload: b}, nil
}

// Data returns the messages that publish samples for device: a DBIRTH first
// when the device is new or brings a series it was not born with, then the
// DDATA. firstSample is the number of samples[0]; the DDATA consumes
// len(samples) numbers. historical marks samples replayed from the spool
// (spec §6.4.6 is_historical), so hosts do not take them for the present.
// While the clock is unsynchronised the DDATA also carries
// MetricClockUnsynced = true, declared in the device's births from then on
// (a DBIRTH comes first the first time). Births must have been sent on this
// connection.
func (s *Session) Data(device string, samples []sample.Sample, firstSample uint64, historical bool) ([]Message, error) {
	if !s.born {
		return nil, errors.New("sparkplug: data before NBIRTH on this connection")
	}
	d, err := s.device(device)
	if err != nil {
		return nil, err
	}
	now := s.opts.Now()
	unsynced := s.clockUnsynced()
	if unsynced && d.clockAlias == 0 {
		d.clockAlias = s.alias()
		d.born = false
	}
	var msgs []Message
	aliases := make([]uint64, len(samples))
	for i, smp := range samples {
		series := smp.Series()
		a, ok := d.aliases[series]
		if !ok {
			if len(d.series) >= s.opts.MaxSeriesPerDevice {
				return nil, fmt.Errorf("%w: device %q, series %s", ErrTooManySeries, device, series)
			}
			a = s.alias()
			d.aliases[series] = a
			d.series = append(d.series, series)
			d.born = false
		}
		aliases[i] = a
		d.last[series] = smp
	}
	if !d.born {
		m, err := s.deviceBirth(device, firstSample, now, unsynced)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	p := &pb.Payload{
		Timestamp: msec(now),
		Seq:       proto.Uint64(s.nextSeq()),
		Metrics:   make([]*pb.Payload_Metric, 0, len(samples)+2),
	}
	p.Metrics = append(p.Metrics, sampleSeqMetric(d.seqAlias, firstSample, now, false))
	if unsynced {
		p.Metrics = append(p.Metrics, clockMetric(d.clockAlias, true, now, false))
	}
	for i, smp := range samples {
		m := &pb.Payload_Metric{Alias: proto.Uint64(aliases[i]), Timestamp: msec(smp.TS)}
		if historical {
			m.IsHistorical = proto.Bool(true)
		}
		setValue(m, smp.Value)
		p.Metrics = append(p.Metrics, m)
	}
	b, err := marshal(p)
	if err != nil {
		return nil, err
	}
	return append(msgs, Message{Topic: DeviceTopic(s.opts.Group, DDATA, s.opts.EdgeNode, device), Payload: b, Samples: len(samples)}), nil
}

// IsRebirthRequest reports whether an NCMD payload asks for new births.
func IsRebirthRequest(payload []byte) (bool, error) {
	var p pb.Payload
	if err := proto.Unmarshal(payload, &p); err != nil {
		return false, fmt.Errorf("sparkplug: decode NCMD: %w", err)
	}
	for _, m := range p.GetMetrics() {
		if (m.GetName() == MetricRebirth || (m.Name == nil && m.GetAlias() == aliasRebirth)) && m.GetBooleanValue() {
			return true, nil
		}
	}
	return false, nil
}

// RebirthRequest returns the NCMD a host sends to ask edge for new births.
func RebirthRequest(group, edge string, now time.Time) (Message, error) {
	p := &pb.Payload{
		Timestamp: msec(now),
		Metrics: []*pb.Payload_Metric{{
			Name:      proto.String(MetricRebirth),
			Timestamp: msec(now),
			Datatype:  proto.Uint32(uint32(pb.DataType_Boolean)),
			Value:     &pb.Payload_Metric_BooleanValue{BooleanValue: true},
		}},
	}
	b, err := marshal(p)
	return Message{Topic: NodeTopic(group, NCMD, edge), Payload: b}, err
}
