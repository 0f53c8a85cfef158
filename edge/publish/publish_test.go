package publish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/sample"
	"github.com/rackwatch/rackwatch/edge/seqstore"
	"github.com/rackwatch/rackwatch/edge/sparkplug"
	"github.com/rackwatch/rackwatch/edge/spool"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// host subscribes like a primary host and decodes everything it receives.
type host struct {
	mu      sync.Mutex
	h       *sparkplug.Host
	samples map[uint64]bool // values seen (each test sample carries a unique value)
	births  int
	errs    []error
}

func subscribe(t *testing.T, url string) *host {
	h := &host{h: sparkplug.NewHost(sparkplug.HostOpts{}), samples: map[uint64]bool{}}
	state := sparkplug.StateTopic("test-host").String()
	born := time.Now()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("test-host").
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(100*time.Millisecond).
		SetBinaryWill(state, sparkplug.StatePayload(false, born), 1, true).
		SetOnConnectHandler(func(c paho.Client) {
			// QoS 0 for this host's own publishes: paho's reconnect resends
			// a QoS 1 publish it holds while its writer may still use it
			// (eclipse-paho/paho.mqtt.golang#703), a race the detector
			// reports; on loopback QoS 0 arrives all the same.
			defer c.Publish(state, 0, true, sparkplug.StatePayload(true, born))
			c.Subscribe(sparkplug.GroupFilter("site1"), 1, func(_ paho.Client, m paho.Message) {
				h.mu.Lock()
				defer h.mu.Unlock()
				u, err := h.h.Handle(m.Topic(), m.Payload(), time.Now())
				if u.Rebirth {
					// Joined after the births, as a primary host may: ask again.
					rb, _ := sparkplug.RebirthRequest(u.Topic.Group, u.Topic.EdgeNode, time.Now())
					c.Publish(rb.Topic.String(), 0, false, rb.Payload)
				} else if err != nil {
					h.errs = append(h.errs, err)
				}
				if u.Topic.Type == sparkplug.NBIRTH {
					h.births++
				}
				if u.Topic.Type == sparkplug.DDATA {
					for _, s := range u.Samples {
						h.samples[s.Value.Uint()] = true
					}
				}
			}).Wait()
		}))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("test host connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return h
}

func (h *host) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.samples)
}

func newPublisher(t *testing.T, broker string, qopts spool.Opts) (*Publisher, *seqstore.Store) {
	dir := t.TempDir()
	store, err := seqstore.Open(filepath.Join(dir, "seq.json"), 0)
	if err != nil {
		t.Fatal(err)
	}
	qopts.Logger = quiet
	q, err := spool.Open(filepath.Join(dir, "spool"), qopts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	p, err := New(Opts{
		Broker: broker, ClientID: "edge-rack1", Group: "site1", EdgeNode: "rack1", QoS: 1, PrimaryHost: "test-host",
		BackoffMin: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond, ConnectTimeout: time.Second,
		AckTimeout: 2 * time.Second, Store: store, Queue: q, Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, store
}

func run(t *testing.T, p *Publisher) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func counter(v uint64) []sample.Sample {
	return []sample.Sample{{Metric: sample.IfInErrors, Labels: sample.L("ifname", "swp1"), Value: sample.Uint(v), Unit: "packets", TS: time.Now()}}
}

func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPublishesAndSurvivesBrokerRestart(t *testing.T) {
	broker := testrig.StartMosquitto(t, nil)
	h := subscribe(t, broker.URL)
	p, _ := newPublisher(t, broker.URL, spool.Opts{})
	run(t, p)
	for i := uint64(0); i < 100; i++ {
		if err := p.Enqueue("tor1", counter(i)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "100 samples", 10*time.Second, func() bool { return h.count() == 100 })

	// The broker goes away; samples queue at the edge meanwhile.
	broker.Stop()
	eventually(t, "disconnect", 10*time.Second, func() bool { return !p.Stats().Connected })
	for i := uint64(100); i < 200; i++ {
		p.Enqueue("tor1", counter(i))
	}
	if q := p.Stats().Queued; q != 100 {
		t.Errorf("queued while the broker is away = %d, want 100", q)
	}
	broker.Restart(t)
	// The queue is kept until acknowledged, so every sample arrives once
	// both sides are back.
	eventually(t, "200 samples after the restart", 20*time.Second, func() bool { return h.count() == 200 })
	st := p.Stats()
	if st.Sessions < 2 || st.Dropped != 0 || st.Queued != 0 || st.Published < 200 {
		t.Errorf("stats = %+v", st)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	hs, _ := h.h.Stats("site1", "rack1")
	if h.births < 2 || hs.SamplesLost != 0 || len(h.errs) != 0 {
		t.Errorf("host: births %d, stats %+v, errors %v", h.births, hs, h.errs)
	}
}

func TestQueueIsBoundedAndDropsAreAudited(t *testing.T) {
	broker := testrig.StartMosquitto(t, nil)
	h := subscribe(t, broker.URL)
	// A tiny spool: two segments of 4 KiB, about 200 samples.
	p, _ := newPublisher(t, broker.URL, spool.Opts{SegmentBytes: 4096, MaxBytes: 8192, FlushInterval: 10 * time.Millisecond})
	run(t, p)
	p.Enqueue("tor1", counter(0))
	eventually(t, "the first sample", 10*time.Second, func() bool { return h.count() == 1 })
	broker.Stop()
	eventually(t, "disconnect", 10*time.Second, func() bool { return !p.Stats().Connected })
	for i := uint64(1); i <= 2000; i++ {
		p.Enqueue("tor1", counter(i))
		if i%100 == 0 {
			time.Sleep(20 * time.Millisecond) // let the spool write segments
		}
	}
	eventually(t, "connect attempts", 10*time.Second, func() bool { return p.Stats().ConnectErr >= 2 })
	if st := p.Stats(); st.Dropped == 0 || st.LastError == "" {
		t.Fatalf("stats %+v: want drops from the full spool and the broker's error reported", p.Stats())
	}
	broker.Restart(t)
	eventually(t, "the newest sample", 20*time.Second, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.samples[2000]
	})
	// Read only now: on a loaded machine the spool may still have been
	// writing (and evicting) when the broker came back.
	dropped := p.Stats().Dropped
	h.mu.Lock()
	defer h.mu.Unlock()
	hs, _ := h.h.Stats("site1", "rack1")
	// Every sample dropped at the edge is accounted as lost at the host,
	// exactly, and nothing else is.
	if hs.SamplesLost != dropped || uint64(len(h.samples)) != 2001-dropped {
		t.Errorf("edge dropped %d; host lost %d and holds %d of 2001", dropped, hs.SamplesLost, len(h.samples))
	}
}

func TestRebirthOnRequest(t *testing.T) {
	broker := testrig.StartMosquitto(t, nil)
	h := subscribe(t, broker.URL)
	p, _ := newPublisher(t, broker.URL, spool.Opts{})
	run(t, p)
	eventually(t, "first birth", 10*time.Second, func() bool { h.mu.Lock(); defer h.mu.Unlock(); return h.births == 1 })
	c := paho.NewClient(paho.NewClientOptions().AddBroker(broker.URL).SetClientID("requester"))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer c.Disconnect(100)
	m, _ := sparkplug.RebirthRequest("site1", "rack1", time.Now())
	c.Publish(m.Topic.String(), 1, false, m.Payload).Wait()
	eventually(t, "rebirth", 10*time.Second, func() bool { h.mu.Lock(); defer h.mu.Unlock(); return h.births == 2 })
	if p.Stats().Rebirths != 1 {
		t.Errorf("rebirths = %d", p.Stats().Rebirths)
	}
}

// pending is a paho token that never completes.
type pending struct{}

func (pending) Wait() bool                     { select {} }
func (pending) WaitTimeout(time.Duration) bool { return false }
func (pending) Done() <-chan struct{}          { return nil }
func (pending) Error() error                   { return nil }

// TestHandOverIsBounded: paho blocks a publish or subscribe, before it
// returns the token, for its WriteTimeout (30 s when unset) when the
// connection drops as it hands the packet over. Such a request must end
// within the publisher's bound on the broker's answer, hand-over included,
// or the loop stalls past what the watchdog allows after a broker restart.
func TestHandOverIsBounded(t *testing.T) {
	p, _ := newPublisher(t, "tcp://127.0.0.1:1", spool.Opts{})
	if w := p.clientOptions(sparkplug.Message{}, nil).WriteTimeout; w <= 0 || w > p.opts.AckTimeout {
		t.Errorf("paho WriteTimeout %v, want within the ack timeout %v", w, p.opts.AckTimeout)
	}
	const bound, handOver = time.Second, time.Second
	start := time.Now()
	err := call(context.Background(), bound, func() paho.Token { time.Sleep(handOver); return pending{} })
	if took := time.Since(start); !errors.Is(err, ErrTimeout) || took >= bound+handOver*8/10 {
		t.Errorf("call = %v after %v, want %v soon after the %v bound", err, took, ErrTimeout, bound)
	}
}

func ExampleNew() {
	store, _ := seqstore.Open(filepath.Join("/var/lib/rackwatch", "sample-seq.json"), 0)
	queue, _ := spool.Open(filepath.Join("/var/lib/rackwatch", "spool"), spool.Opts{})
	p, err := New(Opts{Broker: "tcp://127.0.0.1:1883", ClientID: "rackwatch-edge-rack1", Group: "site1", EdgeNode: "rack1", QoS: 1, Store: store, Queue: queue})
	if err != nil {
		fmt.Println(err)
		return
	}
	go p.Run(context.Background())
	p.Enqueue("inlet", []sample.Sample{{Metric: sample.TemperatureCelsius, Labels: sample.L("sensor", "inlet"), Value: sample.Float(24.5), Unit: "celsius", TS: time.Now()}})
}
