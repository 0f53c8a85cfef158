package deploy_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/rackwatch/rackwatch/collector/ingest"
	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/config"
	"github.com/rackwatch/rackwatch/edge/edgenode"
	"github.com/rackwatch/rackwatch/edge/sample"
	"github.com/rackwatch/rackwatch/edge/sparkplug"

	collector "github.com/rackwatch/rackwatch/collector/config"
)

// These tests prove the shipped broker kit (mosquitto.conf and
// acl.example, rewritten only for paths and the port) against the threat
// it exists for: rack controller credentials that leak.
//
// Both binaries speak MQTT 3.1.1 (paho.mqtt.golang), and so do these
// tests, so that they observe what the binaries experience: Mosquitto
// acknowledges a publish its ACL denies with an ordinary PUBACK and drops
// it, so the publisher cannot tell. (An MQTT 5 client would get reason
// code 0x87 in the PUBACK, but that tells nothing about what the binaries
// see, and no MQTT 5 client is a dependency of the module.) Each check is
// therefore made by a privileged subscriber: after the publish under
// test, the same client publishes a marker it may publish; the broker
// forwards one client's messages in order, so the marker arriving first
// proves the publish under test was dropped, with no timing involved.

const markerRack1 = "spBv1.0/site1/NDATA/rack1"
const markerCollector = "spBv1.0/site1/NCMD/rack9"

func TestExampleACLConfinesEachRack(t *testing.T) {
	bin := testrig.Require(t, "mosquitto", "mosquitto")
	passwdBin := testrig.Require(t, "mosquitto_passwd", "mosquitto")
	users := map[string]string{"rack1": "pw-rack1", "rackwatch-collector": "pw-collector"}
	url, pool, _ := startMosquitto(t, bin, passwdBin, users)

	pubs := map[string]paho.Client{}
	for user, pass := range users {
		c, err := connect(url, pool, user, pass)
		if err != nil {
			t.Fatal(err)
		}
		pubs[user] = c
		t.Cleanup(func() { c.Disconnect(100) })
	}
	// The observer is a second session of the collector's user, which
	// reads the whole namespace; its own publishes would come back to it.
	obs, err := connect(url, pool, "rackwatch-collector", users["rackwatch-collector"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { obs.Disconnect(100) })
	in := make(inbox, 16)
	if r := subscribe(t, obs, in, "spBv1.0/#"); r["spBv1.0/#"] == 0x80 {
		t.Fatal("the collector may not subscribe to spBv1.0/#")
	}

	for _, tc := range []struct {
		user, topic string
		allowed     bool
	}{
		// A rack controller publishes its own node and devices.
		{"rack1", "spBv1.0/site1/NBIRTH/rack1", true},
		{"rack1", "spBv1.0/site1/NDEATH/rack1", true},
		{"rack1", "spBv1.0/site1/DBIRTH/rack1/node1-bmc", true},
		{"rack1", "spBv1.0/site1/DDATA/rack1/node1-bmc", true},
		{"rack1", "spBv1.0/site1/DDEATH/rack1/node1-bmc", true},
		// It cannot speak for another rack: forged heat there could get a
		// healthy node drained.
		{"rack1", "spBv1.0/site1/NBIRTH/rack2", false},
		{"rack1", "spBv1.0/site1/NDATA/rack2", false},
		{"rack1", "spBv1.0/site1/NDEATH/rack2", false},
		{"rack1", "spBv1.0/site1/DBIRTH/rack2/node4-bmc", false},
		{"rack1", "spBv1.0/site1/DDATA/rack2/node4-bmc", false},
		{"rack1", "spBv1.0/site1/DDEATH/rack2/node4-bmc", false},
		// Nor for itself in another group, nor below a device ID (one
		// topic level in Sparkplug B 3.0).
		{"rack1", "spBv1.0/site2/NDATA/rack1", false},
		{"rack1", "spBv1.0/site1/DDATA/rack1/node1-bmc/extra", false},
		// It cannot command anyone, itself included: commands steer the
		// load balancer.
		{"rack1", "spBv1.0/site1/NCMD/rack1", false},
		{"rack1", "spBv1.0/site1/NCMD/rack2", false},
		{"rack1", "spBv1.0/site1/DCMD/rack1/node1", false},
		{"rack1", "spBv1.0/site1/DCMD/rack2/node4", false},
		// It cannot announce a primary host: a forged STATE online would
		// empty every edge's spool into a collector that is not there,
		// and one offline would make them all queue.
		{"rack1", "spBv1.0/STATE/rackwatch-collector", false},
		{"rack1", "spBv1.0/STATE/rack1", false},
		// The collector commands any node and announces its own STATE.
		{"rackwatch-collector", "spBv1.0/site1/NCMD/rack1", true},
		{"rackwatch-collector", "spBv1.0/site1/NCMD/rack2", true},
		{"rackwatch-collector", "spBv1.0/site1/DCMD/rack2/node4", true},
		{"rackwatch-collector", "spBv1.0/STATE/rackwatch-collector", true},
		// But it forges no edge data, and no other host's STATE.
		{"rackwatch-collector", "spBv1.0/site1/NDATA/rack1", false},
		{"rackwatch-collector", "spBv1.0/site1/DBIRTH/rack1/node1-bmc", false},
		{"rackwatch-collector", "spBv1.0/STATE/other-host", false},
	} {
		verb := map[bool]string{true: "may", false: "may not"}[tc.allowed]
		t.Run(fmt.Sprintf("%s %s publish %s", tc.user, verb, tc.topic), func(t *testing.T) {
			c := pubs[tc.user]
			marker := markerRack1
			if tc.user == "rackwatch-collector" {
				marker = markerCollector
			}
			// Not retained: a retained message would outlive the case.
			publish(t, c, tc.topic, false)
			if tc.allowed {
				in.expect(t, "observer", tc.topic)
			}
			publish(t, c, marker, false)
			in.expect(t, "observer", marker)
		})
	}
}

// mutualPKI writes a test CA (ca.crt), a server certificate for 127.0.0.1
// (server.crt, server.key) and a client certificate per name (NAME.crt,
// NAME.key, the name as its common name), all signed by the CA, and
// returns a pool that trusts the CA.
func mutualPKI(names ...string) func(*testing.T, string) *x509.CertPool {
	return func(t *testing.T, dir string) *x509.CertPool {
		t.Helper()
		ca := testrig.NewCA(t, dir)
		testrig.WriteCert(t, dir, "server", testrig.CertOpts{CommonName: "127.0.0.1", IPs: []net.IP{net.IPv4(127, 0, 0, 1)},
			Usage: x509.ExtKeyUsageServerAuth, CA: ca})
		for _, n := range names {
			testrig.WriteCert(t, dir, n, testrig.CertOpts{CommonName: n, Usage: x509.ExtKeyUsageClientAuth, CA: ca})
		}
		return ca.Pool
	}
}

// mutualTLS is what an operator appends to the shipped mosquitto.conf for
// mutual TLS: the certificate's common name becomes the username, so the
// same ACL applies and the password file is no longer consulted.
const mutualTLS = "require_certificate true\nuse_identity_as_username true\n"

// recorder is the collector's telemetry sink and edge watcher in the
// mutual TLS test: it remembers which edges' data arrived.
type recorder struct {
	mu      sync.Mutex
	samples map[string]int // edge → samples
	births  map[string]int // edge → NBIRTHs
}

func (r *recorder) Add(edge, _ string, s []sample.Sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples[edge] += len(s)
}
func (r *recorder) ForgetDevice(string, string)      {}
func (r *recorder) ForgetEdge(string)                {}
func (r *recorder) EdgeOffline(string, time.Time)    {}
func (r *recorder) EdgeOnline(e string, _ time.Time) { r.mu.Lock(); r.births[e]++; r.mu.Unlock() }

func (r *recorder) get(edge string) (samples, births int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.samples[edge], r.births[edge]
}

// runEdge runs an edge (edge/edgenode, which publishes through
// edge/publish) from a configuration file until the test ends.
func runEdge(t *testing.T, dir, node, url, caFile, certFile, keyFile string) *testrig.Buffer {
	t.Helper()
	return startEdge(t, filepath.Join(dir, node+"-edge.yaml"), fmt.Sprintf(`version: 1
edge: {group: site1, node: %s, state_dir: %s}
mqtt: {broker: %q, ca_file: %q, cert_file: %q, key_file: %q, primary_host: rackwatch-collector, backoff_max: 1s}
i2c:
  - bus: emulated
    sensors: [{name: inlet, chip: tmp102, address: 0x48, period: 200ms}]
`, node, filepath.Join(dir, node+"-state"), url, caFile, certFile, keyFile))
}

// startEdge writes yml to path, loads it as an operator's edge
// configuration and runs that edge until the test ends; its log is
// returned, and shown if the test fails.
func startEdge(t *testing.T, path, yml string) *testrig.Buffer {
	t.Helper()
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logs := &testrig.Buffer{}
	go func() {
		done <- edgenode.Run(ctx, cfg, edgenode.Opts{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("edge %s: %v", cfg.Edge.Node, err)
		}
		if t.Failed() {
			t.Logf("edge %s log:\n%s", cfg.Edge.Node, logs)
		}
	})
	return logs
}

// TestMutualTLSWithTheExampleBroker runs the collector's MQTT side
// (collector/ingest) and edges (edge/edgenode and edge/publish) with
// client certificates from their configuration files against the shipped
// broker kit switched to mutual TLS, where the certificate is the login.
func TestMutualTLSWithTheExampleBroker(t *testing.T) {
	bin := testrig.Require(t, "mosquitto", "mosquitto")
	passwdBin := testrig.Require(t, "mosquitto_passwd", "mosquitto")
	users := map[string]string{"rack1": "pw-rack1", "rackwatch-collector": "pw-collector"}
	url, pool, caFile := startMosquittoWith(t, bin, passwdBin, users, mutualPKI("rack1", "rackwatch-collector"), mutualTLS)
	pki := filepath.Dir(caFile)
	pair := func(n string) (string, string) { return filepath.Join(pki, n+".crt"), filepath.Join(pki, n+".key") }

	// Without a certificate the handshake fails, whatever the password.
	if c, err := connect(url, pool, "rack1", users["rack1"]); err == nil {
		c.Disconnect(0)
		t.Fatal("a client without a certificate connected")
	}

	// The collector, configured as an operator would.
	dir := t.TempDir()
	colCert, colKey := pair("rackwatch-collector")
	colPath := filepath.Join(dir, "collector.yaml")
	colYAML := fmt.Sprintf(`version: 1
mqtt: {broker: %q, ca_file: %q, cert_file: %q, key_file: %q, group: site1, host_id: rackwatch-collector}
haproxy:
  - {name: lb1, address: /run/haproxy/admin.sock}
nodes:
  - {name: node1, edge: rack1, bmc: node1-bmc, lb: [{haproxy: lb1, backend: api, server: s1}]}
`, url, caFile, colCert, colKey)
	if err := os.WriteFile(colPath, []byte(colYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	ccfg, err := collector.Load(colPath)
	if err != nil {
		t.Fatal(err)
	}
	tlsc, err := ccfg.MQTT.TLS().Config()
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{samples: map[string]int{}, births: map[string]int{}}
	colLogs := &testrig.Buffer{}
	ing, err := ingest.New(ingest.Opts{Broker: ccfg.MQTT.Broker, TLS: tlsc, Group: ccfg.MQTT.Group, HostID: ccfg.MQTT.HostID,
		Sink: rec, Edges: rec, Logger: slog.New(slog.NewTextHandler(colLogs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ing.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ingest: %v", err)
		}
		if t.Failed() {
			t.Logf("collector log:\n%s", colLogs)
		}
	})

	// rack1's edge publishes only once it has read the collector's STATE:
	// its data arriving proves the STATE write and read, and its own
	// births and data, under the identities of the certificates.
	cert, key := pair("rack1")
	runEdge(t, dir, "rack1", url, caFile, cert, key)
	// An edge holding rack1's certificate but claiming to be rack2.
	impostor := runEdge(t, dir, "rack2", url, caFile, cert, key)

	waitFor(t, 20*time.Second, "rack1's data at the collector", func() bool {
		n, b := rec.get("rack1")
		return n > 0 && b > 0
	})

	// The collector commands rack1: a rebirth request over NCMD, answered
	// with a new NBIRTH.
	_, births := rec.get("rack1")
	if err := ing.Publish("spBv1.0/site1/NCMD/rack1", 1, false, rebirthPayload(t)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "rack1's rebirth after the collector's NCMD", func() bool {
		_, b := rec.get("rack1")
		return b > births
	})

	// The impostor got STATE and published its births and data for rack2
	// (the broker acknowledged them); none of it may pass the ACL. Once it
	// has, rack1's data keeps arriving for several periods as a bound for
	// anything of rack2's still in flight.
	waitFor(t, 10*time.Second, "births published by the impostor", func() bool {
		return strings.Contains(impostor.String(), "births published")
	})
	n0, _ := rec.get("rack1")
	waitFor(t, 10*time.Second, "more of rack1's data", func() bool {
		n, _ := rec.get("rack1")
		return n >= n0+10
	})
	if n, b := rec.get("rack2"); n > 0 || b > 0 {
		t.Errorf("rack1's certificate published as rack2: %d samples, %d births reached the collector", n, b)
	}
	if st := ing.Stats(); st.Messages == 0 || st.Malformed > 0 {
		t.Errorf("collector stats %+v", st)
	}
}

func rebirthPayload(t *testing.T) []byte {
	t.Helper()
	m, err := sparkplug.RebirthRequest("site1", "rack1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return m.Payload
}

func waitFor(t *testing.T, timeout time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
