package ingest

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/sample"
	"github.com/rackwatch/rackwatch/edge/sparkplug"
)

// An edge drops from its spool what the broker acknowledged, and stops
// publishing only once it sees STATE offline: whatever it sent before
// must still reach the sink when the collector stops, or every restart of
// the collector loses samples.
func TestStopKeepsWhatEdgesSentBeforeOffline(t *testing.T) {
	broker := testrig.StartMosquitto(t, nil)
	sink := &memSink{samples: map[string][]sample.Sample{}}
	g, err := New(Opts{Broker: broker.URL, Group: "site1", HostID: "collector", Sink: sink,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { g.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	var online, offline atomic.Bool
	edge := paho.NewClient(paho.NewClientOptions().AddBroker(broker.URL).SetClientID("fake-edge"))
	if tok := edge.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer edge.Disconnect(100)
	edge.Subscribe("spBv1.0/STATE/collector", 1, func(_ paho.Client, m paho.Message) {
		if st, err := sparkplug.ParseState(m.Payload()); err == nil {
			online.Store(st.Online)
			offline.Store(!st.Online)
		}
	}).Wait()
	eventually(t, "STATE online", online.Load)

	s, _ := sparkplug.NewSession(sparkplug.SessionOpts{Group: "site1", EdgeNode: "rack1"})
	births, err := s.Births(0)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range births {
		edge.Publish(m.Topic.String(), 1, false, m.Payload).Wait()
	}
	// The edge publishes one sample at a time, each once the broker has
	// acknowledged the one before, until it sees STATE offline.
	var acked atomic.Int64
	edgeDone := make(chan struct{})
	go func() {
		defer close(edgeDone)
		for n := uint64(0); !offline.Load(); n++ {
			msgs, err := s.Data("bmc1", []sample.Sample{{Metric: sample.TemperatureCelsius, Labels: sample.L("sensor", "CPU"),
				Value: sample.Float(70), TS: time.Now()}}, n, false)
			if err != nil {
				t.Error(err)
				return
			}
			if tok := edge.Publish(msgs[0].Topic.String(), 1, false, msgs[0].Payload); tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
				acked.Add(1)
			}
		}
	}()
	eventually(t, "samples flowing", func() bool { return sink.count("rack1/bmc1") > 100 })
	cancel()
	<-done
	<-edgeDone
	// The DBIRTH carries no current value here: every sample is a DDATA.
	if got, want := sink.count("rack1/bmc1"), int(acked.Load()); got < want {
		t.Errorf("the sink has %d of the %d samples the broker acknowledged to the edge before it saw STATE offline", got, want)
	}
}
