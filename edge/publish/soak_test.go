package publish

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/sample"
	"github.com/rackwatch/rackwatch/edge/seqstore"
	"github.com/rackwatch/rackwatch/edge/sparkplug"
	"github.com/rackwatch/rackwatch/edge/spool"
)

// A rack's worth of sources, as the soak produces them.
const (
	soakSensors   = 16 // I2C sensors, read together every sensor period
	soakSwitches  = 2  // SNMP targets with 48 ports × 6 counters
	soakBMCs      = 46 // SNMP targets with 12 values each
	soakBMCValues = 12
	soakPorts     = 48
)

var soakCounters = []string{"if_in_octets_total", "if_out_octets_total", sample.IfInErrors, sample.IfOutErrors, sample.IfInDiscards, sample.IfFCSErrors}

// soakHost is the primary host of the soak: it announces STATE and counts
// what it receives by sample number, through sparkplug.Host, which
// accounts for every number as received, lost or duplicate. It keeps
// counters only, so it does not grow over the run.
type soakHost struct {
	mu      sync.Mutex
	h       *sparkplug.Host
	samples uint64 // distinct samples received in DDATA
	errs    int
	lastErr error
	c       paho.Client
}

func startSoakHost(t *testing.T, url string) *soakHost {
	t.Helper()
	h := &soakHost{h: sparkplug.NewHost(sparkplug.HostOpts{})}
	state := sparkplug.StateTopic("soak-host").String()
	born := time.Now()
	h.c = paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("soak-host").
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(50*time.Millisecond).
		SetMaxReconnectInterval(200*time.Millisecond).SetOrderMatters(true).
		SetBinaryWill(state, sparkplug.StatePayload(false, born), 1, true).
		SetOnConnectHandler(func(c paho.Client) {
			// Mosquitto runs without persistence: after its restart the
			// subscription and the retained STATE are made again.
			c.Subscribe(sparkplug.GroupFilter("site1"), 1, h.receive).Wait()
			c.Publish(state, 0, true, sparkplug.StatePayload(true, born))
		}))
	if tok := h.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("soak host: connect: %v", tok.Error())
	}
	return h
}

func (h *soakHost) receive(c paho.Client, m paho.Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u, err := h.h.Handle(m.Topic(), m.Payload(), time.Now())
	switch {
	case u.Rebirth:
		rb, _ := sparkplug.RebirthRequest(u.Topic.Group, u.Topic.EdgeNode, time.Now())
		c.Publish(rb.Topic.String(), 0, false, rb.Payload)
	case err != nil:
		h.errs++
		h.lastErr = err
	case u.Topic.Type == sparkplug.DDATA:
		h.samples += uint64(len(u.Samples))
	}
}

func (h *soakHost) stats() (sparkplug.EdgeStats, uint64, int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st, _ := h.h.Stats("site1", "rack1")
	return st, h.samples, h.errs, h.lastErr
}

// TestSoakEdge runs the edge's publishing path for a compressed day: the
// publisher with its spool and sample sequence store, the clock simulated,
// against a real Mosquitto (its own process, so this process's memory is
// the edge's). A rack's worth of sources is produced: 16 sensors read
// together every second and 48 SNMP targets (two switches, 46 BMCs)
// polled every 10 s, about 129 samples/s. Time jumps as soon as the
// publisher has drained the samples of a step, so the run takes as long as
// publishing takes. In the middle of the day the broker is away for a
// simulated hour: the spool fills, and drains once it is back. Every
// sample must arrive, by sample number.
//
// RACKWATCH_SOAK_HOURS (default 24, at least 14) sets the simulated time;
// RACKWATCH_SOAK_SLOWDOWN (default 30; 1 is the real rates) divides the
// sources' rates: the short run reads sensors every 30 s and polls every
// 5 min.
func TestSoakEdge(t *testing.T) {
	hours := testrig.EnvInt(t, "RACKWATCH_SOAK_HOURS", 24)
	slow := time.Duration(testrig.EnvInt(t, "RACKWATCH_SOAK_SLOWDOWN", 30))
	sensorPeriod, pollPeriod := slow*time.Second, slow*10*time.Second
	step := pollPeriod // one step holds a poll of every target
	if hours < 14 {
		t.Fatalf("RACKWATCH_SOAK_HOURS=%d: want at least 14, to judge the heap on each side of the outage", hours)
	}
	broker := testrig.StartMosquitto(t, nil)
	baseGoroutines := runtime.NumGoroutine()

	t0 := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	var clock atomic.Int64
	clock.Store(t0.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }

	dir := t.TempDir()
	store, err := seqstore.Open(filepath.Join(dir, "seq.json"), 0)
	if err != nil {
		t.Fatal(err)
	}
	q, err := spool.Open(filepath.Join(dir, "spool"), spool.Opts{Now: now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	host := startSoakHost(t, broker.URL)
	p, err := New(Opts{
		Broker: broker.URL, ClientID: "edge-rack1", Group: "site1", EdgeNode: "rack1", QoS: 1, PrimaryHost: "soak-host",
		BackoffMin: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond, ConnectTimeout: time.Second,
		AckTimeout: 2 * time.Second, Store: store, Queue: q, Logger: quiet, Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		<-done
		host.c.Disconnect(100)
		q.Close()
		store.Close()
	}
	defer stop()

	// Names are made once, as the agent's sources make them once.
	sensorLabels := make([]sample.Labels, soakSensors)
	for i := range sensorLabels {
		sensorLabels[i] = sample.L("sensor", fmt.Sprintf("t%02d", i))
	}
	portLabels := make([]sample.Labels, soakPorts)
	for i := range portLabels {
		portLabels[i] = sample.L("ifname", fmt.Sprintf("Ethernet%d", i+1))
	}
	bmcLabels := make([]sample.Labels, soakBMCValues)
	for i := range bmcLabels {
		bmcLabels[i] = sample.L("sensor", fmt.Sprintf("CPU%d", i))
	}

	var enqueued uint64
	enqueue := func(dev string, ss []sample.Sample) {
		t.Helper()
		if err := p.Enqueue(dev, ss); err != nil {
			t.Fatal(err)
		}
		enqueued += uint64(len(ss))
	}
	produce := func(at time.Time, k uint64) {
		for ts := at.Add(-step + sensorPeriod); !ts.After(at); ts = ts.Add(sensorPeriod) {
			ss := make([]sample.Sample, soakSensors)
			for i := range ss {
				ss[i] = sample.Sample{Metric: sample.TemperatureCelsius, Labels: sensorLabels[i], Value: sample.Float(22 + float64((k+uint64(i))%8)*0.25), Unit: "celsius", TS: ts}
			}
			enqueue("env", ss)
		}
		for s := range soakSwitches {
			ss := make([]sample.Sample, 0, soakPorts*len(soakCounters))
			for pi := range soakPorts {
				for c, m := range soakCounters {
					ss = append(ss, sample.Sample{Metric: m, Labels: portLabels[pi], Value: sample.Uint(k * uint64(1+pi+c)), Unit: "packets", TS: at})
				}
			}
			enqueue(fmt.Sprintf("tor%d", s+1), ss)
		}
		for b := range soakBMCs {
			ss := make([]sample.Sample, soakBMCValues)
			for i := range ss {
				ss[i] = sample.Sample{Metric: sample.TemperatureCelsius, Labels: bmcLabels[i], Value: sample.Float(45 + float64((k+uint64(b+i))%20)*0.5), Unit: "celsius", TS: at}
			}
			enqueue(fmt.Sprintf("bmc%02d", b+1), ss)
		}
	}
	drained := func(what string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			// The host too: Mosquitto holds at most 1000 messages for a
			// slow subscriber and drops the rest, and loses what it holds
			// when it stops (it runs without persistence).
			if st := p.Stats(); st.Connected && st.Queued == 0 {
				if _, got, _, _ := host.stats(); got == enqueued {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the publisher did not drain: %+v", what, p.Stats())
			}
			time.Sleep(200 * time.Microsecond)
		}
	}

	// The broker is away for the hour that starts half-way through the
	// run, on a step boundary.
	outageStart := (time.Duration(hours) * time.Hour / 2).Truncate(step)
	outageEnd := outageStart + time.Hour
	var (
		mem []testrig.MemSample
		// before and after hold the readings on each side of the
		// outage: the backlog grows buffers to their size for a burst,
		// so the heap settles at a new level, and a trend is judged on
		// each side.
		before, after []testrig.MemSample
		outagePeak    spool.Stats
		down          bool
	)
	steps := int(time.Duration(hours) * time.Hour / step)
	perHour := int(time.Hour / step)
	wallStart := time.Now()
	mem = append(mem, testrig.ReadMemory(0))
	before = append(before, mem[0])
	for k := 1; k <= steps; k++ {
		clock.Add(int64(step))
		at := now()
		since := at.Sub(t0)
		switch {
		case !down && since > outageStart && since <= outageEnd:
			drained("before the outage")
			broker.Stop()
			down = true
		case down && since > outageEnd:
			broker.Restart(t)
			down = false
		}
		produce(at, uint64(k))
		if down {
			if st := q.Stats(); st.PendingSamples > outagePeak.PendingSamples {
				outagePeak = st
			}
		} else {
			drained(fmt.Sprintf("step %d (%v)", k, since))
		}
		if k%perHour == 0 {
			m := testrig.ReadMemory(since)
			mem = append(mem, m)
			// A reading in the outage counts for the high-water only:
			// the backlog in memory is the spool doing its job.
			switch {
			case since <= outageStart:
				before = append(before, m)
			case since > outageEnd:
				after = append(after, m)
			}
			st := q.Stats()
			t.Logf("edge %s queued=%d spool_disk=%s", m, p.Stats().Queued, testrig.MiB(uint64(st.DiskBytes)))
		}
	}
	wall := time.Since(wallStart)

	// Every sample arrived: the host saw each number once, lost none.
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, got, _, _ := host.stats()
		if got >= enqueued && st.Samples >= enqueued {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the host received %d samples of %d", got, enqueued)
		}
		time.Sleep(10 * time.Millisecond)
	}
	hs, got, errs, lastErr := host.stats()
	ps := p.Stats()
	t.Logf("edge soak: %d simulated hours, sensors every %v, SNMP every %v, in %v: %d samples published in %d sessions; "+
		"outage backlog %d samples in %d records, %s on disk; host: %d received, %d lost, %d duplicates dropped",
		hours, sensorPeriod, pollPeriod, wall.Round(time.Millisecond), enqueued, ps.Sessions,
		outagePeak.PendingSamples, outagePeak.Pending, testrig.MiB(uint64(outagePeak.DiskBytes)), got, hs.SamplesLost, hs.SamplesDuplicate)
	if hs.SamplesLost != 0 || got != enqueued || ps.Dropped != 0 || errs != 0 {
		t.Errorf("host received %d of %d samples, lost %d, %d errors (last %v); publisher dropped %d", got, enqueued, hs.SamplesLost, errs, lastErr, ps.Dropped)
	}
	if next := store.Peek(); next != enqueued {
		t.Errorf("the sequence store is at %d after %d samples", next, enqueued)
	}
	if ps.Sessions < 2 || outagePeak.PendingSamples == 0 {
		t.Errorf("the outage did not fill the spool: sessions %d, backlog %+v", ps.Sessions, outagePeak)
	}
	// Bounded structures: the spool is empty again and its files shrank.
	if st := q.Stats(); st.PendingSamples != 0 || st.Memory != 0 || st.Segments > 2 {
		t.Errorf("spool after draining: %+v", st)
	}

	peak := testrig.Peak(mem)
	t.Logf("edge high-water: heap_live=%s go_total=%s VmHWM=%s; heap slope once warm %.1f KiB/h before the outage, %.1f after",
		testrig.MiB(peak.HeapLive), testrig.MiB(peak.Total), testrig.MiB(peak.HWM),
		testrig.HeapSlope(before[len(before)/3:])/1024, testrig.HeapSlope(after[len(after)/3:])/1024)
	if err := testrig.HeapBounded(before); err != nil {
		t.Errorf("before the outage: %v", err)
	}
	if err := testrig.HeapBounded(after); err != nil {
		t.Errorf("after the outage: %v", err)
	}

	stop()
	if n := testrig.SettleGoroutines(baseGoroutines, 5*time.Second); n > baseGoroutines {
		t.Errorf("%d goroutines after the publisher stopped, %d before it started:\n%s", n, baseGoroutines, testrig.Stacks())
	}
}
