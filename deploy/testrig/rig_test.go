package testrig_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/gosnmp/gosnmp"
	influxdb2 "github.com/influxdata/influxdb-client-go/v2"

	"github.com/rackwatch/rackwatch/deploy/testrig"
)

func connectMQTT(t *testing.T, url, id string) mqtt.Client {
	t.Helper()
	opts := mqtt.NewClientOptions().AddBroker(url).SetClientID(id).
		SetConnectTimeout(5 * time.Second).SetAutoReconnect(false)
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", url, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// roundTrip publishes payload at QoS 1 and waits for the subscriber to get
// it back.
func roundTrip(t *testing.T, url, topic, payload string) {
	t.Helper()
	got := make(chan string, 1)
	sub := connectMQTT(t, url, "sub-"+payload)
	tok := sub.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) {
		select {
		case got <- string(m.Payload()):
		default:
		}
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	pub := connectMQTT(t, url, "pub-"+payload)
	if tok := pub.Publish(topic, 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	select {
	case p := <-got:
		if p != payload {
			t.Fatalf("received %q, want %q", p, payload)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("message %q not delivered", payload)
	}
}

func TestMosquitto(t *testing.T) {
	t.Parallel()
	m := testrig.StartMosquitto(t, nil)
	if !strings.HasPrefix(m.URL, "tcp://127.0.0.1:") || m.URL != "tcp://"+m.Addr {
		t.Fatalf("URL %q, Addr %q", m.URL, m.Addr)
	}
	roundTrip(t, m.URL, "rackwatch/test", "before")

	m.Stop()
	if c, err := net.DialTimeout("tcp", m.Addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("broker still accepts connections on %s after Stop", m.Addr)
	}
	m.Restart(t)
	roundTrip(t, m.URL, "rackwatch/test", "after")
}

func TestMosquittoExtraConfig(t *testing.T) {
	t.Parallel()
	m := testrig.StartMosquitto(t, &testrig.MosquittoOpts{Config: "allow_anonymous false"})
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(m.URL).SetClientID("anon").
		SetConnectTimeout(5 * time.Second).SetAutoReconnect(false))
	tok := c.Connect()
	if !tok.WaitTimeout(5 * time.Second) {
		t.Fatal("connect did not complete")
	}
	if tok.Error() == nil {
		c.Disconnect(100)
		t.Fatal("anonymous client connected although allow_anonymous is false")
	}
}

// backend is an HTTP server that answers with its name.
func backend(t *testing.T, name string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, name)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// statRows parses "show stat" by its header row.
func statRows(t *testing.T, out string) []map[string]string {
	t.Helper()
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "# ")))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil || len(recs) < 2 {
		t.Fatalf("show stat: %v:\n%s", err, out)
	}
	var rows []map[string]string
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, h := range recs[0] {
			if i < len(rec) {
				row[h] = rec[i]
			}
		}
		rows = append(rows, row)
	}
	return rows
}

func TestHAProxy(t *testing.T) {
	t.Parallel()
	s1, s2 := backend(t, "one"), backend(t, "two")
	h := testrig.StartHAProxy(t, testrig.HAProxyOpts{Servers: []testrig.HAProxyServer{
		{Name: "s1", Addr: s1.URL},
		{Name: "s2", Addr: strings.TrimPrefix(s2.URL, "http://")},
	}})
	if h.Backend != "api" {
		t.Errorf("Backend = %q, want the default api", h.Backend)
	}

	seen := map[string]int{}
	for range 4 {
		resp, err := http.Get("http://" + h.FrontendAddr + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		seen[string(b)]++
	}
	if seen["one"] != 2 || seen["two"] != 2 {
		t.Errorf("round robin over 4 requests reached %v, want one and two twice each", seen)
	}

	servers := map[string]string{}
	for _, row := range statRows(t, h.Command(t, "show stat")) {
		if row["pxname"] == "api" && row["svname"] != "BACKEND" {
			servers[row["svname"]] = row["stot"]
		}
	}
	if len(servers) != 2 || servers["s1"] != "2" || servers["s2"] != "2" {
		t.Errorf("show stat servers and their stot = %v, want s1 and s2 with 2 each", servers)
	}

	if out := h.Command(t, "set server api/s1 state drain"); strings.TrimSpace(out) != "" {
		t.Errorf("drain answered %q", out)
	}
	if out := h.Command(t, "set server api/nope state drain"); !strings.Contains(out, "No such server") {
		t.Errorf("drain of an unknown server answered %q", out)
	}
	for range 2 {
		resp, err := http.Get("http://" + h.FrontendAddr + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "two" {
			t.Errorf("with s1 drained, request reached %q", b)
		}
	}
}

func get(t *testing.T, g *gosnmp.GoSNMP, oid string) gosnmp.SnmpPDU {
	t.Helper()
	res, err := g.Get([]string{oid})
	if err != nil {
		t.Fatalf("get %s: %v", oid, err)
	}
	if len(res.Variables) != 1 {
		t.Fatalf("get %s: %d varbinds", oid, len(res.Variables))
	}
	return res.Variables[0]
}

func TestSnmpd(t *testing.T) {
	t.Parallel()
	a := testrig.StartSnmpd(t, testrig.SnmpdOpts{Community: "rig", Config: "sysDescr rackwatch rig agent"})
	if a.Community != "rig" {
		t.Errorf("Community = %q", a.Community)
	}
	pdu := get(t, a.Client(t, ""), "1.3.6.1.2.1.1.1.0")
	if b, ok := pdu.Value.([]byte); !ok || string(b) != "rackwatch rig agent" {
		t.Fatalf("sysDescr.0 = %v (%v), want the configured text", pdu.Value, pdu.Type)
	}
	// A wrong community gets no answer from snmpd.
	bad := a.Client(t, "wrong")
	bad.Timeout, bad.Retries = 300*time.Millisecond, 0
	if _, err := bad.Get([]string{"1.3.6.1.2.1.1.1.0"}); err == nil {
		t.Error("snmpd answered an unknown community")
	}
}

func TestSnmpsim(t *testing.T) {
	t.Parallel()
	rec := testrig.Recording(t, "ios_2960x")
	a := testrig.StartSnmpsim(t, filepath.Dir(rec))
	if a.Community != "ios_2960x" {
		t.Errorf("Community = %q, want ios_2960x", a.Community)
	}
	pdu := get(t, a.Client(t, "ios_2960x"), "1.3.6.1.2.1.1.1.0")
	if b, ok := pdu.Value.([]byte); !ok || !strings.Contains(string(b), "Cisco") {
		t.Fatalf("sysDescr.0 = %v (%v), want a Cisco description", pdu.Value, pdu.Type)
	}
}

// TestRecordingSorted checks the copy of the recording whose ipAddrTable
// rows are out of order.
func TestRecordingSorted(t *testing.T) {
	t.Parallel()
	rec := testrig.Recording(t, "cumulus_bgp")
	f, err := os.Open(rec)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var prev []int
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		n++
		oidText, _, _ := strings.Cut(sc.Text(), "|")
		var oid []int
		for _, arc := range strings.Split(oidText, ".") {
			var v int
			fmt.Sscan(arc, &v)
			oid = append(oid, v)
		}
		if prev != nil && compareOID(prev, oid) > 0 {
			t.Fatalf("line %d: %s sorts before the previous line", n, oidText)
		}
		prev = oid
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 1000 {
		t.Fatalf("copy has %d lines", n)
	}
	if fi, err := os.Stat(filepath.Dir(rec)); err != nil || fi.Mode().Perm()&0o005 != 0o005 {
		t.Errorf("recording dir mode %v (%v): others must be able to read it", fi.Mode(), err)
	}
}

func compareOID(a, b []int) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] - b[i]
		}
	}
	return len(a) - len(b)
}

// sendTrap sends an SNMPv2c trap with the given snmpTrapOID.0 and varbinds.
func sendTrap(t *testing.T, r *testrig.TrapReceiver, trapOID string, vars ...gosnmp.SnmpPDU) {
	t.Helper()
	g := &gosnmp.GoSNMP{
		Target: r.Host, Port: r.Port, Community: "public",
		Version: gosnmp.Version2c, Timeout: 2 * time.Second,
	}
	if err := g.Connect(); err != nil {
		t.Fatal(err)
	}
	defer g.Conn.Close()
	trap := gosnmp.SnmpTrap{Variables: append([]gosnmp.SnmpPDU{
		{Name: ".1.3.6.1.2.1.1.3.0", Type: gosnmp.TimeTicks, Value: uint32(4200)},
		{Name: ".1.3.6.1.6.3.1.1.4.1.0", Type: gosnmp.ObjectIdentifier, Value: trapOID},
	}, vars...)}
	if _, err := g.SendTrap(trap); err != nil {
		t.Fatal(err)
	}
}

func TestSnmptrapd(t *testing.T) {
	t.Parallel()
	r := testrig.StartSnmptrapd(t, testrig.SnmptrapdOpts{})
	// linkDown (RFC 2863) for ifIndex 7.
	sendTrap(t, r, ".1.3.6.1.6.3.1.1.5.3",
		gosnmp.SnmpPDU{Name: ".1.3.6.1.2.1.2.2.1.1.7", Type: gosnmp.Integer, Value: 7},
		gosnmp.SnmpPDU{Name: ".1.3.6.1.2.1.2.2.1.8.7", Type: gosnmp.Integer, Value: 2},
	)
	line := r.WaitFor(t, "OID: .1.3.6.1.6.3.1.1.5.3", 5*time.Second)
	if !strings.Contains(line, ".1.3.6.1.2.1.2.2.1.8.7 = INTEGER: 2") {
		t.Errorf("trap line lacks ifOperStatus.7 = 2: %q", line)
	}
	if !strings.Contains(r.Output(), "[UDP: [127.0.0.1]") {
		t.Errorf("output lacks the trap header:\n%s", r.Output())
	}
}

func TestSnmptrapdMIB(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mib := "RIG-MIN-MIB DEFINITIONS ::= BEGIN\nrigMin OBJECT IDENTIFIER ::= { iso 3 6 1 4 1 99999 }\nrigAlarm OBJECT IDENTIFIER ::= { rigMin 1 }\nEND\n"
	if err := os.WriteFile(filepath.Join(dir, "RIG-MIN-MIB.txt"), []byte(mib), 0o644); err != nil {
		t.Fatal(err)
	}
	r := testrig.StartSnmptrapd(t, testrig.SnmptrapdOpts{MIBDirs: []string{dir}, MIBs: "RIG-MIN-MIB"})
	sendTrap(t, r, ".1.3.6.1.4.1.99999.1")
	r.WaitFor(t, "OID: RIG-MIN-MIB::rigAlarm", 5*time.Second)
}

func TestInfluxDB(t *testing.T) {
	t.Parallel()
	i := testrig.StartInfluxDB(t)
	i.CreateDatabase(t, "rig")
	i.Write(t, "rig", "temperature,rack=r1 value=21.5 1700000000000000000\n")

	// The v2 compatibility endpoint, as influxdb-client-go uses it.
	c := influxdb2.NewClient(i.URL, "")
	defer c.Close()
	p := influxdb2.NewPoint("temperature", map[string]string{"rack": "r2"},
		map[string]any{"value": 30.25}, time.Unix(1700000001, 0))
	if err := c.WriteAPIBlocking("", "rig/autogen").WritePoint(context.Background(), p); err != nil {
		t.Fatalf("v2 write: %v", err)
	}

	out := string(i.Query(t, "rig", `SELECT value FROM temperature GROUP BY rack`))
	for _, want := range []string{`"rack":"r1"`, `21.5`, `"rack":"r2"`, `30.25`} {
		if !strings.Contains(out, want) {
			t.Errorf("query answer lacks %s: %s", want, out)
		}
	}
}

func TestSmilint(t *testing.T) {
	t.Parallel()
	smilint := testrig.Smilint(t)
	dir := t.TempDir()
	lint := func(name, mib string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(mib), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(smilint, "-l", "6", path).CombinedOutput()
		if err != nil {
			t.Fatalf("smilint %s: %v\n%s", name, err, out)
		}
		return string(out)
	}
	clean := "RIG-MIN-MIB DEFINITIONS ::= BEGIN\nrigMin OBJECT IDENTIFIER ::= { iso 99 }\nrigMinSub OBJECT IDENTIFIER ::= { rigMin 1 }\nEND\n"
	if out := lint("RIG-MIN-MIB", clean); out != "" {
		t.Errorf("smilint reported on a valid module:\n%s", out)
	}
	// smilint exits 0 on errors too: the output is what tells.
	if out := lint("RIG-BROKEN-MIB", "RIG-BROKEN-MIB DEFINITIONS ::= BEGIN\nrigBroken OBJECT IDENTIFIER ::= { rigNowhere 1 }\n"); out == "" {
		t.Error("smilint reported nothing on a broken module")
	}
}

func TestInfluxDBFlux(t *testing.T) {
	t.Parallel()
	i := testrig.StartInfluxDBWith(t, testrig.InfluxDBOpts{Flux: true})
	i.CreateDatabase(t, "rig")
	i.Write(t, "rig", "fan,rack=r1 rpm=4200i 1700000000000000000\n")
	c := influxdb2.NewClient(i.URL, "")
	defer c.Close()
	res, err := c.QueryAPI("").Query(context.Background(),
		`from(bucket:"rig/autogen") |> range(start: 2023-01-01T00:00:00Z) |> filter(fn: (r) => r._measurement == "fan")`)
	if err != nil {
		t.Fatalf("flux query: %v", err)
	}
	defer res.Close()
	var got []any
	for res.Next() {
		got = append(got, res.Record().Value())
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != int64(4200) {
		t.Fatalf("flux returned %v, want [4200]", got)
	}
}
