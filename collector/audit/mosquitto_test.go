package audit_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/rackwatch/rackwatch/collector/audit"
	"github.com/rackwatch/rackwatch/deploy/testrig"
)

func connect(t *testing.T, o *paho.ClientOptions) paho.Client {
	t.Helper()
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", o.ClientID, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func subscribe(t *testing.T, url, topic string) <-chan []byte {
	t.Helper()
	got := make(chan []byte, 64)
	c := connect(t, paho.NewClientOptions().AddBroker(url).SetClientID("audit-subscriber-"+time.Now().Format("150405.000000")))
	tok := c.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) { got <- m.Payload() })
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", topic, tok.Error())
	}
	return got
}

func receive(t *testing.T, ch <-chan []byte, want []byte) {
	t.Helper()
	select {
	case m := <-ch:
		if !bytes.Equal(m, want) {
			t.Errorf("received %s\nwant %s", m, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no event received; want %s", want)
	}
}

// TestMosquitto publishes decision events through a real broker, stops the
// broker while decisions keep coming, and checks that recording never
// blocks, that what overflows the queue is dropped and counted, and that
// what the queue held is delivered, in order, once the broker is back.
func TestMosquitto(t *testing.T) {
	m := testrig.StartMosquitto(t, nil)
	topic := audit.Topic("rackwatch-collector")
	sub := subscribe(t, m.URL, topic)

	// No automatic reconnect: the test decides when the publisher comes
	// back, after a new subscriber is listening.
	pub := connect(t, paho.NewClientOptions().AddBroker(m.URL).SetClientID("audit-publisher").SetAutoReconnect(false))
	p := audit.PahoPublisher(pub)
	p.Timeout = 5 * time.Second
	const queue = 4
	r := newRecorder(t, audit.Opts{Publisher: p, Topic: topic, Queue: queue, Retry: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	})

	for _, d := range decisions() {
		r.Record(d)
		receive(t, sub, audit.MarshalDecision(d))
	}

	m.Stop()
	waitFor(t, "the publisher to see the broker go", func() bool { return !pub.IsConnectionOpen() })
	const n = 10
	start := time.Now()
	var away [][]byte
	for i := range n {
		d := decision(string(rune('a' + i)))
		away = append(away, audit.MarshalDecision(d))
		r.Record(d)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("recording %d decisions with the broker away took %v", n, el)
	}
	waitFor(t, "a retry", func() bool { return r.Counters().Retries > 0 })
	c := r.Counters()
	// Run holds one event while it retries and the queue holds `queue`
	// more; Run may not have taken the first before the queue filled.
	if c.Dropped < n-queue-1 || c.Dropped > n-queue {
		t.Fatalf("dropped %d of %d with a queue of %d", c.Dropped, n, queue)
	}
	if c.Failed != 0 {
		t.Errorf("failed = %d: an absent broker is retried, not failed", c.Failed)
	}

	m.Restart(t)
	sub = subscribe(t, m.URL, topic)
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("reconnect publisher: %v", tok.Error())
	}
	kept := n - int(c.Dropped)
	// The oldest events were kept, the newest dropped.
	for _, want := range away[:kept] {
		receive(t, sub, want)
	}
	waitFor(t, "published count", func() bool { return r.Counters().Published == uint64(len(decisions())+kept) })
	select {
	case extra := <-sub:
		t.Errorf("unexpected event %s", extra)
	case <-time.After(200 * time.Millisecond):
	}
}
