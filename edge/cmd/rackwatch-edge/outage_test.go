package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/sparkplug"
)

// primaryHost plays the collector: it announces itself with STATE and
// accounts for every sample with sparkplug.Host.
type primaryHost struct {
	mu   sync.Mutex
	h    *sparkplug.Host
	errs []error
}

func startPrimaryHost(t *testing.T, url string) *primaryHost {
	ph := &primaryHost{h: sparkplug.NewHost(sparkplug.HostOpts{})}
	state := sparkplug.StateTopic("collector").String()
	born := time.Now()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("collector").
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(200*time.Millisecond).
		SetMaxReconnectInterval(time.Second).SetOrderMatters(true).
		SetBinaryWill(state, sparkplug.StatePayload(false, born), 1, true).
		SetOnConnectHandler(func(c paho.Client) {
			c.Subscribe(sparkplug.GroupFilter("site1"), 1, func(c paho.Client, m paho.Message) {
				ph.mu.Lock()
				defer ph.mu.Unlock()
				u, err := ph.h.Handle(m.Topic(), m.Payload(), time.Now())
				if u.Rebirth {
					rb, _ := sparkplug.RebirthRequest(u.Topic.Group, u.Topic.EdgeNode, time.Now())
					c.Publish(rb.Topic.String(), 0, false, rb.Payload)
				} else if err != nil {
					ph.errs = append(ph.errs, err)
				}
			})
			// QoS 0: paho resends a QoS 1 publish caught by a broker
			// outage from its reconnect goroutine while its writer may
			// still hold the packet (eclipse-paho/paho.mqtt.golang#703, a
			// data race the race detector reports); on loopback a
			// retained QoS 0 STATE arrives all the same.
			c.Publish(state, 0, true, sparkplug.StatePayload(true, born))
		}))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("primary host: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return ph
}

func (ph *primaryHost) stats() sparkplug.EdgeStats {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	st, _ := ph.h.Stats("site1", "rack1")
	return st
}

// TestOutageAndSIGKILLLoseNothing: the edge publishes steadily; the broker
// stops for 60 s; during the outage the edge is killed with SIGKILL and
// started again; the broker returns. The primary host must then hold every
// sample, with no gap in the 64-bit sample sequence.
func TestOutageAndSIGKILLLoseNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("a 60 s broker outage")
	}
	bin := filepath.Join(t.TempDir(), "rackwatch-edge")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	broker := testrig.StartMosquitto(t, nil)
	host := startPrimaryHost(t, broker.URL)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "edge.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`version: 1
edge: {node: rack1, state_dir: %s}
mqtt: {broker: %s, primary_host: collector, backoff_max: 1s, connect_timeout: 2s}
spool: {flush_interval: 1s}
i2c:
  - bus: emulated
    sensors:
      - {name: inlet, chip: tmp102, address: 0x48, period: 100ms}
      - {name: outlet, chip: tmp102, address: 0x49, period: 100ms}
      - {name: air, chip: sht4x, address: 0x44, period: 100ms}
      - {name: fans, chip: max31790, address: 0x20, period: 200ms}
`, filepath.Join(dir, "state"), broker.URL)), 0o600)
	var logs bytes.Buffer
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "run", "-config", cfg)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	defer func() {
		if t.Failed() {
			t.Logf("edge logs:\n%s", logs.String())
		}
	}()
	edge := start()
	waitFor := func(what string, d time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(d)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; host stats %+v", what, host.stats())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("steady publishing", 20*time.Second, func() bool { return host.stats().Samples > 200 })

	broker.Stop()
	outage := time.Now()
	time.Sleep(20 * time.Second)
	edge.Process.Signal(syscall.SIGKILL)
	edge.Wait()
	edge = start() // the same state directory: the spool replays
	time.Sleep(time.Until(outage.Add(60 * time.Second)))
	before := host.stats().Samples
	broker.Restart(t)
	back := time.Now()

	// Caught up: the host receives samples produced after the broker came
	// back, so everything before them has arrived or is a gap.
	waitFor("the replay", 120*time.Second, func() bool {
		st := host.stats()
		return st.Births >= 2 && st.Samples > before+10*60*12
	})
	caughtUp := time.Since(back)
	edge.Process.Signal(syscall.SIGTERM)
	edge.Wait()

	st := host.stats()
	host.mu.Lock()
	errs := host.errs
	host.mu.Unlock()
	if st.SamplesLost != 0 || st.SeqGaps != 0 || len(errs) > 0 {
		t.Fatalf("loss: %+v, decode errors %v", st, errs)
	}
	replayed := st.Samples - before
	t.Logf("outage 60 s with a SIGKILL at 20 s: %d samples before, %d after, none lost, %d duplicates dropped; caught up in %s (%.0f samples/s replayed)",
		before, replayed, st.SamplesDuplicate, caughtUp.Round(time.Millisecond), float64(replayed)/caughtUp.Seconds())
}
