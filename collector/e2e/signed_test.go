package e2e

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/cmdsign"
	"github.com/rackwatch/rackwatch/edge/command"
)

// signing is the configuration of signed commands: the collector's
// commands section, and the host edges'.
type signing struct {
	collector, edge string
	keyID           string
}

// newSigning writes a key pair as `rackwatch-collector keygen` does.
func newSigning(t *testing.T) signing {
	t.Helper()
	kp, err := cmdsign.WriteKeyPair(t.TempDir(), "e2e-c1", nil)
	if err != nil {
		t.Fatal(err)
	}
	return signing{
		keyID:     kp.ID,
		collector: fmt.Sprintf("commands: {key_id: %s, signing_key_file: %s}\n", kp.ID, kp.PrivateFile),
		edge:      fmt.Sprintf("commands:\n  trusted_keys:\n    - {id: %s, public_key: %q}\n", kp.ID, cmdsign.EncodePublicKey(kp.Public)),
	}
}

// TestSignedCommandsAndAForgery: the collector's signed lb_state commands
// steer an agent-checked node through its host edge on a real Mosquitto;
// a command that claims the collector's key id but is signed with another
// key, published on the node's command topic, is refused by the edge and
// counted, and the collector, seeing the count grow in the edge's status,
// sends rwCommandRejected to a real snmptrapd.
func TestSignedCommandsAndAForgery(t *testing.T) {
	trapd := testrig.StartSnmptrapd(t, testrig.SnmptrapdOpts{MIBDirs: []string{"../../mibs", "../../mibs/testdata/smi"}, MIBs: "RACKWATCH-MIB"})
	const node = 1 // node2, server s2
	l := newLoopWith(t, loopOpts{agentChecked: []int{node}, signed: true,
		collectorExtra: fmt.Sprintf("snmp_notify:\n  targets:\n    - {name: nms, address: %q, version: 2c, community: public}\n", trapd.Addr)})
	agent := net.JoinHostPort("127.0.0.1", strconv.Itoa(l.agentPorts[node]))
	edge := l.hostEdges[node]

	l.bmcs[node].setTemp(t, 92)
	l.nodes[node].delay.Store(int64(40 * time.Millisecond))
	tr := &serverTrace{lb: l.lb, server: "s2", start: time.Now()}
	tr.waitFor(t, "shed to weight 50 by a signed command", 20*time.Second, func(v lbView) bool { return v.up(50) })
	if out := edge.output(); !strings.Contains(out, `result="applied`) || strings.Contains(out, `result="refused`) {
		t.Fatalf("node2's host edge did not apply the signed commands alone:\n%s", out)
	}
	l.bmcs[node].setTemp(t, 45) // no further heat: the forgery must be what changes nothing
	l.nodes[node].delay.Store(0)

	// The forger holds the broker's credentials (here: none needed) but
	// not the collector's key.
	forger, err := cmdsign.NewSigner(cmdsign.SignerOpts{KeyID: l.signing.keyID,
		Key: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))})
	if err != nil {
		t.Fatal(err)
	}
	c, err := forger.Sign("site1", "node2", command.Command{ID: "forged-1", Version: 1 << 62, Kind: command.KindLBState,
		Device: "lb", State: command.LBMaint, WeightPercent: 100})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := command.NewPayload([]command.Command{c}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pc := paho.NewClient(paho.NewClientOptions().AddBroker(l.brokerURL).SetClientID("e2e-forger"))
	if tok := pc.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("forger: connect: %v", tok.Error())
	}
	defer pc.Disconnect(100)
	if tok := pc.Publish("spBv1.0/site1/NCMD/node2", 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("forger: publish: %v", tok.Error())
	}

	waitUntil(t, "the edge refuses the forgery", func() bool { return strings.Contains(edge.output(), "reason=forged") })
	if line, err := agentLine(agent); err != nil || strings.HasPrefix(line, "maint") {
		t.Errorf("node2's responder answers %q (%v) after the forgery", line, err)
	}
	// The edge's status device reports its counters every 10 s.
	deadline := time.Now().Add(30 * time.Second)
	for !l.metric(t, `rackwatch_collector_command_rejections_total{reason="forged"} 1`) {
		if time.Now().After(deadline) {
			t.Fatalf("the collector never counted the forgery\ncollector:\n%s", l.collector.output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	line := trapd.WaitFor(t, "RACKWATCH-MIB::rwCommandRejected", 20*time.Second)
	for _, want := range []string{"rwEdge.0 = STRING: node2", "as forged", "rwNode.0 = STRING: node2"} {
		if !strings.Contains(line, want) {
			t.Errorf("rwCommandRejected lacks %q:\n%s", want, line)
		}
	}
}
