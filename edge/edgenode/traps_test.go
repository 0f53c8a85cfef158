package edgenode

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/gosnmp/gosnmp"
	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/config"
	"github.com/rackwatch/rackwatch/edge/sample"
	"github.com/rackwatch/rackwatch/edge/sparkplug"
)

// TestLinkDownTrapIsPublishedAtOnce: a switch's linkDown trap reaches the
// collector as the interface going down on that switch's device, named as
// the poller names it, without waiting for the next poll.
func TestLinkDownTrapIsPublishedAtOnce(t *testing.T) {
	broker := testrig.StartMosquitto(t, nil)
	agent := testrig.StartSnmpd(t, testrig.SnmpdOpts{})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	trapAddr := pc.LocalAddr().String()
	pc.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "edge.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf(`version: 1
edge: {node: rack1, state_dir: %s}
mqtt: {broker: %s, primary_host: ""}
snmp_security: {allow_community: true}
snmp:
  - {name: tor1, address: %q, profiles: [if-mib], period: 10s}
traps:
  listen: %q
  communities: [public]
`, dir, broker.URL, agent.Addr, trapAddr)), 0o600)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []sample.Sample
	h := sparkplug.NewHost(sparkplug.HostOpts{})
	sub := paho.NewClient(paho.NewClientOptions().AddBroker(broker.URL).SetClientID("watcher").SetOrderMatters(true))
	if tok := sub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer sub.Disconnect(100)
	sub.Subscribe(sparkplug.GroupFilter("site1"), 1, func(_ paho.Client, m paho.Message) {
		mu.Lock()
		defer mu.Unlock()
		if u, err := h.Handle(m.Topic(), m.Payload(), time.Now()); err == nil && u.Topic.Device == "tor1" && u.Topic.Type == sparkplug.DDATA {
			got = append(got, u.Samples...)
		}
	}).Wait()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, Opts{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}) }()
	defer func() { cancel(); <-done }()

	find := func(metric, label, value string) (sample.Sample, bool) {
		mu.Lock()
		defer mu.Unlock()
		for i := len(got) - 1; i >= 0; i-- {
			if got[i].Metric == metric && got[i].Labels.Get(label) == value {
				return got[i], true
			}
		}
		return sample.Sample{}, false
	}
	deadline := time.Now().Add(15 * time.Second)
	for { // the first poll names interface 1
		if s, ok := find(sample.IfOperUp, "ifname", "lo"); ok && s.Value.Bool() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no first poll of lo")
		}
		time.Sleep(50 * time.Millisecond)
	}
	host, port, _ := net.SplitHostPort(trapAddr)
	var p uint16
	fmt.Sscan(port, &p)
	g := &gosnmp.GoSNMP{Target: host, Port: p, Community: "public", Version: gosnmp.Version2c, Timeout: time.Second}
	if err := g.Connect(); err != nil {
		t.Fatal(err)
	}
	defer g.Conn.Close()
	_, err = g.SendTrap(gosnmp.SnmpTrap{Variables: []gosnmp.SnmpPDU{
		{Name: ".1.3.6.1.6.3.1.1.4.1.0", Type: gosnmp.ObjectIdentifier, Value: ".1.3.6.1.6.3.1.1.5.3"},
		{Name: ".1.3.6.1.2.1.2.2.1.1.1", Type: gosnmp.Integer, Value: 1},
		{Name: ".1.3.6.1.2.1.2.2.1.7.1", Type: gosnmp.Integer, Value: 1},
		{Name: ".1.3.6.1.2.1.2.2.1.8.1", Type: gosnmp.Integer, Value: 2},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for {
		down, ok := find(sample.IfOperUp, "ifname", "lo")
		traps, okT := find("snmp_traps_total", "trap", "linkDown")
		if ok && !down.Value.Bool() && okT && traps.Value.Uint() == 1 {
			return
		}
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatalf("no linkDown published for lo on tor1 (down %v %v, trap counter %v %v)", down, ok, traps, okT)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
