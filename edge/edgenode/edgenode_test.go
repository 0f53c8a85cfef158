package edgenode

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/agent"
	"github.com/rackwatch/rackwatch/edge/config"
	"github.com/rackwatch/rackwatch/edge/publish"
	"github.com/rackwatch/rackwatch/edge/sample"
	"github.com/rackwatch/rackwatch/edge/sdnotify"
	"github.com/rackwatch/rackwatch/edge/seqstore"
	"github.com/rackwatch/rackwatch/edge/spool"
)

// TestNodeUnderSystemd runs a whole node as systemd would: a notify socket
// of the test's own and a watchdog, then a SIGTERM-like stop.
func TestNodeUnderSystemd(t *testing.T) {
	broker := testrig.StartMosquitto(t, nil)
	dir := t.TempDir()
	path := filepath.Join(dir, "edge.yaml")
	os.WriteFile(path, []byte(`version: 1
edge: {node: rack1, state_dir: `+dir+`}
mqtt: {broker: `+broker.URL+`, primary_host: ""}
i2c:
  - bus: emulated
    sensors: [{name: inlet, chip: tmp102, address: 0x48, period: 100ms}]
`), 0o600)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var mu sync.Mutex
	var got []string
	go func() {
		b := make([]byte, 512)
		for {
			n, err := conn.Read(b)
			if err != nil {
				return
			}
			mu.Lock()
			got = append(got, string(b[:n]))
			mu.Unlock()
		}
	}()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "200000")

	deaths := make(chan struct{}, 1)
	sub := paho.NewClient(paho.NewClientOptions().AddBroker(broker.URL).SetClientID("watcher"))
	if tok := sub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer sub.Disconnect(100)
	sub.Subscribe("spBv1.0/site1/NDEATH/rack1", 1, func(paho.Client, paho.Message) { deaths <- struct{}{} }).Wait()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, Opts{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Notifier: sdnotify.FromEnv()})
	}()
	time.Sleep(time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	select {
	case <-deaths:
	case <-time.After(5 * time.Second):
		t.Error("no NDEATH published on a graceful stop")
	}
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	all := strings.Join(got, "|")
	if !strings.HasPrefix(all, "READY=1|STATUS=") || !strings.HasSuffix(all, "STOPPING=1") {
		t.Errorf("notifications %q: want READY, STATUS first and STOPPING last", all)
	}
	if n := strings.Count(all, "WATCHDOG=1"); n < 5 {
		t.Errorf("%d watchdog pings in 1 s at a 100 ms interval", n)
	}
}

type slowSource struct{}

func (slowSource) Device() string        { return "tor1" }
func (slowSource) Period() time.Duration { return 10 * time.Second }
func (slowSource) Collect(ctx context.Context) ([]sample.Sample, error) {
	<-ctx.Done() // hangs: never finishes a read
	return nil, ctx.Err()
}
func (slowSource) Close() error { return nil }

func TestStalledWithholdsThePing(t *testing.T) {
	store, err := seqstore.Open(filepath.Join(t.TempDir(), "seq.json"), 0)
	if err != nil {
		t.Fatal(err)
	}
	queue, err := spool.Open(filepath.Join(t.TempDir(), "spool"), spool.Opts{})
	if err != nil {
		t.Fatal(err)
	}
	defer queue.Close()
	pub, err := publish.New(publish.Opts{Broker: "tcp://127.0.0.1:1", ClientID: "c", Group: "g", EdgeNode: "e", Store: store, Queue: queue,
		BackoffMax: 5 * time.Minute, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if r := stalled(time.Now(), &agent.Liveness{}, pub); !strings.Contains(r, "has not started") {
		t.Errorf("a publisher that never ran: %q", r)
	}
	live := &agent.Liveness{}
	ctx, cancel := context.WithCancel(context.Background())
	go pub.Run(ctx) // cannot connect: it turns in its backoff loop
	go agent.Run(ctx, []agent.Source{slowSource{}}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), live, nil)
	defer cancel()
	for deadline := time.Now().Add(5 * time.Second); pub.Alive().UnixNano() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	later := time.Now().Add(2 * time.Minute)
	if r := stalled(time.Now(), live, pub); r != "" {
		t.Errorf("a healthy node is stalled: %q", r)
	}
	for deadline := time.Now().Add(5 * time.Second); len(live.Stalled(later)) == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond) // until the source's goroutine has started
	}
	if r := stalled(later, live, pub); !strings.Contains(r, "tor1") {
		t.Errorf("stalled = %q, want the hung source named", r)
	}
}
