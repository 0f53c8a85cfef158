package deploy_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	collector "github.com/rackwatch/rackwatch/collector/config"
	"github.com/rackwatch/rackwatch/deploy/testrig"
)

func freePort(t *testing.T, network string) int {
	t.Helper()
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	default:
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
}

// subst replaces one value of a shipped file with a test value.
type subst struct{ old, new string }

// rewrite applies subs to the shipped file, each of whose old values must
// occur exactly once, and then proves that every other byte is the shipped
// one: the test must exercise the file operators install, not a variant.
func rewrite(t *testing.T, path string, subs []subst) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	orig := string(b)
	out := orig
	for _, s := range subs {
		if n := strings.Count(out, s.old); n != 1 {
			t.Fatalf("%s: %q occurs %d times, want once", path, s.old, n)
		}
		out = strings.Replace(out, s.old, s.new, 1)
	}
	ol, nl := strings.Split(orig, "\n"), strings.Split(out, "\n")
	if len(ol) != len(nl) {
		t.Fatalf("%s: rewrite changed the line count from %d to %d", path, len(ol), len(nl))
	}
	changed := 0
	for i := range ol {
		if ol[i] == nl[i] {
			continue
		}
		changed++
		want := ol[i]
		for _, s := range subs {
			want = strings.Replace(want, s.old, s.new, 1)
		}
		if want != nl[i] {
			t.Errorf("%s:%d: rewritten to %q, which is not only the substituted values of %q", path, i+1, nl[i], ol[i])
		}
	}
	if changed != len(subs) {
		t.Errorf("%s: %d lines changed, want %d (one per substitution)", path, changed, len(subs))
	}
	return out
}

func TestHAProxyExample(t *testing.T) {
	bin := testrig.Require(t, "haproxy", "haproxy")
	const shipped = "haproxy/haproxy.cfg"
	b, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)

	// The example's log target and agent port must be the ones the other
	// shipped files and the docs use, or an installed kit loses its latency
	// evidence or its agent-check steering.
	c, err := collector.Load(testrig.ShippedConfig(t, "config/collector.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.HAProxyLog == nil || c.HAProxyLog.Listen == "" {
		t.Fatal("config/collector.yaml has no haproxy_log.listen to match haproxy.cfg's log target")
	}
	logLine := "log " + c.HAProxyLog.Listen + " local0"
	for _, want := range []string{
		logLine,
		"option httplog",
		"stats socket /run/haproxy/admin.sock mode 660 level admin expose-fd listeners",
		"agent-check agent-port 5555 agent-inter 2s",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("%s lacks %q", shipped, want)
		}
	}
	if n := strings.Count(text, "weight 100 check"); n != 3 {
		t.Errorf("%s: %d servers with \"weight 100 check\", want 3", shipped, n)
	}

	dir := t.TempDir()
	cfg := rewrite(t, shipped, []subst{
		{"/run/haproxy/admin.sock", filepath.Join(dir, "admin.sock")},
		{logLine, "log 127.0.0.1:" + strconv.Itoa(freePort(t, "udp")) + " local0"},
		{"bind :80", "bind 127.0.0.1:" + strconv.Itoa(freePort(t, "tcp"))},
	})
	p := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-f", p).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
}

// startMosquitto runs the shipped mosquitto.conf and acl.example with only
// paths and the port rewritten, and returns the broker's ssl:// URL, a pool
// that trusts its certificate, and the CA's PEM file.
func startMosquitto(t *testing.T, bin, passwdBin string, users map[string]string) (string, *x509.CertPool, string) {
	t.Helper()
	return startMosquittoWith(t, bin, passwdBin, users, mutualPKI(), "")
}

// startMosquittoWith is startMosquitto with the PKI written by pki (which
// must write ca.crt, server.crt and server.key into its directory) and
// extra lines appended to the shipped configuration; they apply to its
// listener.
func startMosquittoWith(t *testing.T, bin, passwdBin string, users map[string]string, pki func(*testing.T, string) *x509.CertPool, extra string) (string, *x509.CertPool, string) {
	t.Helper()
	dir := t.TempDir()
	pool := pki(t, dir)
	passwd := filepath.Join(dir, "passwd")
	first := true
	for user, pass := range users {
		args := []string{"-b", passwd, user, pass}
		if first {
			args = append([]string{"-c"}, args...)
			first = false
		}
		if out, err := exec.Command(passwdBin, args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd %s: %v\n%s", user, err, out)
		}
	}
	acl, err := os.ReadFile("mosquitto/acl.example")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "acl"), acl, 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	port := freePort(t, "tcp")
	conf := rewrite(t, "mosquitto/mosquitto.conf", []subst{
		{"persistence_location /var/lib/mosquitto/", "persistence_location " + data + "/"},
		{"listener 8883", "listener " + strconv.Itoa(port) + " 127.0.0.1"},
		{"/etc/mosquitto/certs/ca.crt", filepath.Join(dir, "ca.crt")},
		{"/etc/mosquitto/certs/server.crt", filepath.Join(dir, "server.crt")},
		{"/etc/mosquitto/certs/server.key", filepath.Join(dir, "server.key")},
		{"/etc/mosquitto/passwd", passwd},
		{"/etc/mosquitto/acl", filepath.Join(dir, "acl")},
	})
	// Test-only additions, after the shipped lines: logs for the failure
	// message, and as root staying root, since the "mosquitto" user cannot
	// read the test's private directory.
	conf += "log_dest stdout\n"
	if os.Geteuid() == 0 {
		conf += "user root\n"
	}
	conf += extra
	confPath := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}

	var logs testrig.Buffer
	cmd := exec.Command(bin, "-c", confPath)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("mosquitto log:\n%s", logs.String())
		}
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("mosquitto exited: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto not listening on %s: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "ssl://" + addr, pool, filepath.Join(dir, "ca.crt")
}

func connect(url string, pool *x509.CertPool, user, pass string) (paho.Client, error) {
	o := paho.NewClientOptions().
		AddBroker(url).
		SetClientID(fmt.Sprintf("kit-%s-%d", user, time.Now().UnixNano())).
		SetTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}).
		SetAutoReconnect(false).
		SetConnectTimeout(5 * time.Second)
	if user != "" {
		o.SetUsername(user).SetPassword(pass)
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, fmt.Errorf("connect as %q: no CONNACK", user)
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("connect as %q: %w", user, err)
	}
	return c, nil
}

// inbox records the topics a client receives.
type inbox chan string

func (in inbox) handler(_ paho.Client, m paho.Message) { in <- m.Topic() }

// expect waits for topic and fails on any other topic first: with one
// publisher at QoS 1 the broker keeps order, so a denied publish sent before
// a permitted one would have arrived before it.
func (in inbox) expect(t *testing.T, who, topic string) {
	t.Helper()
	select {
	case got := <-in:
		if got != topic {
			t.Fatalf("%s received %s, want %s only", who, got, topic)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s did not receive %s", who, topic)
	}
}

// quiet requires that nothing more arrives: Mosquitto drops a denied
// publish silently, so only a bounded wait shows it.
func (in inbox) quiet(t *testing.T, who string) {
	t.Helper()
	select {
	case got := <-in:
		t.Fatalf("%s received %s, which the ACL should have dropped", who, got)
	case <-time.After(500 * time.Millisecond):
	}
}

func publish(t *testing.T, c paho.Client, topic string, retained bool) {
	t.Helper()
	tok := c.Publish(topic, 1, retained, []byte("kit"))
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// subscribe returns the granted QoS of each filter; 0x80 is a refusal.
func subscribe(t *testing.T, c paho.Client, in inbox, filters ...string) map[string]byte {
	t.Helper()
	f := make(map[string]byte, len(filters))
	for _, s := range filters {
		f[s] = 1
	}
	tok := c.SubscribeMultiple(f, in.handler)
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %v: %v", filters, tok.Error())
	}
	return tok.(*paho.SubscribeToken).Result()
}

func TestMosquittoExample(t *testing.T) {
	bin := testrig.Require(t, "mosquitto", "mosquitto")
	passwdBin := testrig.Require(t, "mosquitto_passwd", "mosquitto")
	users := map[string]string{"rack1": "pw-rack1", "rack2": "pw-rack2", "rackwatch-collector": "pw-collector"}
	url, pool, _ := startMosquitto(t, bin, passwdBin, users)

	if c, err := connect(url, pool, "", ""); err == nil {
		c.Disconnect(0)
		t.Error("anonymous client connected")
	}
	if c, err := connect(url, pool, "rack1", "wrong"); err == nil {
		c.Disconnect(0)
		t.Error("rack1 connected with a wrong password")
	}

	clients := map[string]paho.Client{}
	for user, pass := range users {
		c, err := connect(url, pool, user, pass)
		if err != nil {
			t.Fatal(err)
		}
		clients[user] = c
		t.Cleanup(func() { c.Disconnect(100) })
	}
	col, rack1, rack2 := clients["rackwatch-collector"], clients["rack1"], clients["rack2"]

	colIn := make(inbox, 16)
	if r := subscribe(t, col, colIn, "spBv1.0/#"); r["spBv1.0/#"] == 0x80 {
		t.Fatal("collector may not subscribe to spBv1.0/#")
	}
	rack1In := make(inbox, 16)
	// The filters the edge subscribes to (edge/publish) must be granted.
	edgeFilters := []string{"spBv1.0/site1/NCMD/rack1", "spBv1.0/site1/DCMD/rack1/+", "spBv1.0/STATE/rackwatch-collector"}
	for f, q := range subscribe(t, rack1, rack1In, edgeFilters...) {
		if q == 0x80 {
			t.Errorf("rack1 refused its own subscription %s", f)
		}
	}
	// Whether Mosquitto refuses this filter or accepts it and filters each
	// delivery, rack1 must not see rack2's commands.
	subscribe(t, rack1, rack1In, "spBv1.0/site1/NCMD/rack2", "spBv1.0/site1/DCMD/rack2/+")

	t.Run("edge publishes only its own node", func(t *testing.T) {
		publish(t, rack1, "spBv1.0/site1/NDATA/rack2", false)
		publish(t, rack1, "spBv1.0/site1/DDATA/rack2/api1-bmc", false)
		publish(t, rack1, "spBv1.0/site2/NDATA/rack1", false)
		publish(t, rack1, "spBv1.0/site1/NDATA/rack1", false)
		colIn.expect(t, "collector", "spBv1.0/site1/NDATA/rack1")
		publish(t, rack1, "spBv1.0/site1/DDATA/rack1/api1-bmc", false)
		colIn.expect(t, "collector", "spBv1.0/site1/DDATA/rack1/api1-bmc")
		// The %u patterns serve every rack without a section of its own.
		publish(t, rack2, "spBv1.0/site1/NDATA/rack2", false)
		colIn.expect(t, "collector", "spBv1.0/site1/NDATA/rack2")
		colIn.quiet(t, "collector")
	})

	t.Run("edge receives only its own commands", func(t *testing.T) {
		publish(t, col, "spBv1.0/site1/NCMD/rack2", false)
		publish(t, col, "spBv1.0/site1/DCMD/rack2/api1-bmc", false)
		publish(t, col, "spBv1.0/site1/NCMD/rack1", false)
		rack1In.expect(t, "rack1", "spBv1.0/site1/NCMD/rack1")
		publish(t, col, "spBv1.0/site1/DCMD/rack1/api1-bmc", false)
		rack1In.expect(t, "rack1", "spBv1.0/site1/DCMD/rack1/api1-bmc")
		rack1In.quiet(t, "rack1")
		// Only the primary host issues commands, even to the edge itself.
		publish(t, rack1, "spBv1.0/site1/NCMD/rack1", false)
		rack1In.quiet(t, "rack1")
		drain(colIn)
	})

	t.Run("collector announces STATE", func(t *testing.T) {
		// An edge may not impersonate the primary host.
		publish(t, rack1, "spBv1.0/STATE/rackwatch-collector", false)
		publish(t, col, "spBv1.0/STATE/rackwatch-collector", true)
		rack1In.expect(t, "rack1", "spBv1.0/STATE/rackwatch-collector")
		colIn.expect(t, "collector", "spBv1.0/STATE/rackwatch-collector")
		rack1In.quiet(t, "rack1")
	})
}

// drain empties an inbox of messages a subtest did not look at.
func drain(in inbox) {
	for {
		select {
		case <-in:
		case <-time.After(200 * time.Millisecond):
			return
		}
	}
}

// TestEdgeLogsInToTheExampleBroker runs an edge with the login and CA
// settings an operator gives it for the shipped broker: it must connect over
// TLS as its node ID and publish its birth, which the ACL lets through.
func TestEdgeLogsInToTheExampleBroker(t *testing.T) {
	bin := testrig.Require(t, "mosquitto", "mosquitto")
	passwdBin := testrig.Require(t, "mosquitto_passwd", "mosquitto")
	users := map[string]string{"rack3": "pw-rack3", "rackwatch-collector": "pw-collector"}
	url, pool, caFile := startMosquitto(t, bin, passwdBin, users)
	col, err := connect(url, pool, "rackwatch-collector", users["rackwatch-collector"])
	if err != nil {
		t.Fatal(err)
	}
	defer col.Disconnect(100)
	in := make(inbox, 64)
	subscribe(t, col, in, "spBv1.0/site1/NBIRTH/+")

	dir := t.TempDir()
	logs := startEdge(t, filepath.Join(dir, "edge.yaml"), fmt.Sprintf(`version: 1
edge: {group: site1, node: rack3, state_dir: %s}
mqtt: {broker: %q, username: rack3, password: pw-rack3, ca_file: %q, primary_host: ""}
i2c:
  - bus: emulated
    sensors: [{name: inlet, chip: tmp102, address: 0x48, period: 1s}]
`, filepath.Join(dir, "state"), url, caFile))
	select {
	case topic := <-in:
		if topic != "spBv1.0/site1/NBIRTH/rack3" {
			t.Errorf("collector received %s, want rack3's NBIRTH", topic)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("no NBIRTH from the edge; its log:\n%s", logs)
	}
}
