package edgenode

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/rackwatch/rackwatch/edge/config"
	"github.com/rackwatch/rackwatch/edge/sample"
	"github.com/rackwatch/rackwatch/edge/sparkplug"
)

// watcher is a Sparkplug host on the broker, recording what each device
// of rack1 publishes.
type watcher struct {
	mu      sync.Mutex
	h       *sparkplug.Host
	updates map[string][]sparkplug.Update // by device, DDATA only
}

func watch(t *testing.T, brokerURL string) *watcher {
	t.Helper()
	w := &watcher{h: sparkplug.NewHost(sparkplug.HostOpts{}), updates: map[string][]sparkplug.Update{}}
	sub := paho.NewClient(paho.NewClientOptions().AddBroker(brokerURL).SetClientID("watcher").SetOrderMatters(true))
	if tok := sub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	t.Cleanup(func() { sub.Disconnect(100) })
	sub.Subscribe(sparkplug.GroupFilter("site1"), 1, func(_ paho.Client, m paho.Message) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if u, err := w.h.Handle(m.Topic(), m.Payload(), time.Now()); err == nil && u.Topic.Type == sparkplug.DDATA {
			w.updates[u.Topic.Device] = append(w.updates[u.Topic.Device], u)
		}
	}).Wait()
	return w
}

// count returns how many DDATA the device published.
func (w *watcher) count(device string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.updates[device])
}

// last returns the device's last DDATA.
func (w *watcher) last(device string) (sparkplug.Update, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	us := w.updates[device]
	if len(us) == 0 {
		return sparkplug.Update{}, false
	}
	return us[len(us)-1], true
}

// find returns the latest sample of the device with that metric and label.
func (w *watcher) find(device, metric, label, value string) (sample.Sample, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	us := w.updates[device]
	for i := len(us) - 1; i >= 0; i-- {
		for _, s := range us[i].Samples {
			if s.Metric == metric && (label == "" || s.Labels.Get(label) == value) {
				return s, true
			}
		}
	}
	return sample.Sample{}, false
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// writeConfig writes an edge configuration into dir and loads it.
func writeConfig(t *testing.T, dir, body string) (*config.Config, string) {
	t.Helper()
	path := filepath.Join(dir, "edge.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, path
}

// runNode runs a node until the test ends and returns it once built.
func runNode(t *testing.T, cfg *config.Config, opts Opts) *Node {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ready := make(chan *Node, 1)
	opts.Ready = func(n *Node) { ready <- n }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, opts) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case n := <-ready:
		return n
	case err := <-done:
		t.Fatalf("Run ended before the node was ready: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("node not ready after 10s")
	}
	return nil
}
