package ingest

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/sample"
	"github.com/rackwatch/rackwatch/edge/sparkplug"
)

type memSink struct {
	mu        sync.Mutex
	samples   map[string][]sample.Sample
	forgotten []string
	edges     []string // EdgeWatcher calls
}

func (m *memSink) EdgeOffline(edge string, _ time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.edges = append(m.edges, edge+" offline")
}
func (m *memSink) EdgeOnline(edge string, _ time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.edges = append(m.edges, edge+" online")
}

func (m *memSink) Add(edge, device string, s []sample.Sample) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.samples[edge+"/"+device] = append(m.samples[edge+"/"+device], s...)
}
func (m *memSink) ForgetDevice(edge, device string) {}
func (m *memSink) ForgetEdge(edge string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.forgotten = append(m.forgotten, edge)
}
func (m *memSink) count(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.samples[key])
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// edgeClient is a bare MQTT client that plays an edge node.
func edgeClient(t *testing.T, url string, received chan<- paho.Message) paho.Client {
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("fake-edge"))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	for _, f := range []string{"spBv1.0/STATE/#", "spBv1.0/site1/NCMD/#"} {
		c.Subscribe(f, 1, func(_ paho.Client, m paho.Message) { received <- m }).Wait()
	}
	return c
}

func TestIngestAsPrimaryHost(t *testing.T) {
	broker := testrig.StartMosquitto(t, nil)
	received := make(chan paho.Message, 64)
	edge := edgeClient(t, broker.URL, received)
	sink := &memSink{samples: map[string][]sample.Sample{}}
	g, err := New(Opts{Broker: broker.URL, Group: "site1", HostID: "collector", Sink: sink, Edges: sink,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), RebirthInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { g.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	next := func(want string) paho.Message {
		t.Helper()
		select {
		case m := <-received:
			if m.Topic() != want {
				t.Fatalf("got %s, want %s", m.Topic(), want)
			}
			return m
		case <-time.After(10 * time.Second):
			t.Fatalf("nothing on %s", want)
		}
		return nil
	}
	st, err := sparkplug.ParseState(next("spBv1.0/STATE/collector").Payload())
	if err != nil || !st.Online {
		t.Fatalf("STATE = %+v, %v; want online", st, err)
	}

	s, _ := sparkplug.NewSession(sparkplug.SessionOpts{Group: "site1", EdgeNode: "rack1"})
	if _, err := s.Births(0); err != nil {
		t.Fatal(err)
	}
	msgs, _ := s.Data("bmc1", []sample.Sample{{Metric: sample.TemperatureCelsius, Labels: sample.L("sensor", "CPU"), Value: sample.Float(70), TS: time.Now()}}, 0, false)
	// Data whose births the collector never saw: it asks for a rebirth.
	edge.Publish(msgs[1].Topic.String(), 1, false, msgs[1].Payload).Wait()
	if ok, _ := sparkplug.IsRebirthRequest(next("spBv1.0/site1/NCMD/rack1").Payload()); !ok {
		t.Error("NCMD is not a rebirth request")
	}
	// Garbage is counted and survived.
	edge.Publish("spBv1.0/site1/NDATA/rack1", 1, false, []byte("not protobuf \xff\xff")).Wait()
	eventually(t, "malformed count", func() bool { return g.Stats().Malformed == 1 })

	births, _ := s.Births(0)
	for _, m := range append(births, msgs...) {
		edge.Publish(m.Topic.String(), 1, false, m.Payload).Wait()
	}
	eventually(t, "samples", func() bool { return sink.count("rack1/bmc1") >= 2 }) // the DBIRTH's state and the DDATA
	will, _ := s.Will()
	edge.Publish(will.Topic.String(), 1, false, will.Payload).Wait()
	eventually(t, "edge forgotten", func() bool { sink.mu.Lock(); defer sink.mu.Unlock(); return len(sink.forgotten) == 1 })
	sink.mu.Lock()
	if got := strings.Join(sink.edges, ", "); got != "rack1 online, rack1 offline" {
		t.Errorf("edge events: %s", got)
	}
	sink.mu.Unlock()

	cancel()
	<-done
	st, err = sparkplug.ParseState(next("spBv1.0/STATE/collector").Payload())
	if err != nil || st.Online {
		t.Errorf("STATE on stop = %+v, %v; want offline", st, err)
	}
	if got := g.Stats(); got.Messages < 5 || got.Rebirths != 1 {
		t.Errorf("stats = %+v", got)
	}
	sink.mu.Lock()
	var stored uint64
	for _, ss := range sink.samples {
		stored += uint64(len(ss))
	}
	sink.mu.Unlock()
	if got := g.Stats().Samples; got != stored || got < 2 {
		t.Errorf("%d samples counted, %d handed to the sink", got, stored)
	}
}
