package main

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/gosnmp/gosnmp"
	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/sparkplug"
)

// startSnmpTargets starts one snmpd that answers on n UDP loopback ports,
// each polled as a target of its own, and returns their addresses. Every
// port is checked to answer before the agent starts.
func startSnmpTargets(tb testing.TB, n int) []string {
	tb.Helper()
	// Hold the probed ports together so that they are distinct; snmpd
	// binds them right after they are released.
	var conns []net.PacketConn
	var ports []int
	for range n - 1 {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("probe a free udp port: %v", err)
		}
		conns = append(conns, c)
		ports = append(ports, c.LocalAddr().(*net.UDPAddr).Port)
	}
	extra := make([]string, len(ports))
	for i, p := range ports {
		extra[i] = "udp:127.0.0.1:" + strconv.Itoa(p)
	}
	for _, c := range conns {
		c.Close()
	}
	// snmpd appends agentaddress to the address on its command line.
	a := testrig.StartSnmpd(tb, testrig.SnmpdOpts{Config: "agentaddress " + strings.Join(extra, ",")})
	addrs := []string{a.Addr}
	for _, p := range ports {
		addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(p))
	}
	for i, p := range append([]int{int(a.Port)}, ports...) {
		g := &gosnmp.GoSNMP{Target: "127.0.0.1", Port: uint16(p), Community: a.Community,
			Version: gosnmp.Version2c, Timeout: time.Second, Retries: 2}
		if err := g.Connect(); err != nil {
			tb.Fatalf("snmp connect %s: %v", addrs[i], err)
		}
		_, err := g.Get([]string{"1.3.6.1.2.1.1.3.0"}) // sysUpTime.0 (RFC 3418)
		g.Conn.Close()
		if err != nil {
			tb.Fatalf("snmpd does not answer on %s: %v", addrs[i], err)
		}
	}
	return addrs
}

// sparkplugWatch decodes every message of one edge node as the collector
// would, counting samples and when each device last sent data.
type sparkplugWatch struct {
	mu       sync.Mutex
	host     *sparkplug.Host
	group    string
	node     string
	born     map[string]bool
	counts   watchCounts
	bornCond chan struct{} // signalled on each DBIRTH
}

// watchCounts are cumulative counters at one instant.
type watchCounts struct {
	messages, samples, lost, errors int
	lastError                       string
	data                            map[string]int // DDATA messages by device
}

func subscribeSparkplug(tb testing.TB, brokerURL, group, node string) *sparkplugWatch {
	tb.Helper()
	w := &sparkplugWatch{
		host: sparkplug.NewHost(sparkplug.HostOpts{}), group: group, node: node,
		born: map[string]bool{}, counts: watchCounts{data: map[string]int{}},
		bornCond: make(chan struct{}, 1),
	}
	// Order matters (the default): births must be decoded before data.
	c := paho.NewClient(paho.NewClientOptions().AddBroker(brokerURL).SetClientID("footprint-watch").
		SetConnectTimeout(5 * time.Second))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		tb.Fatalf("subscriber: connect %s: %v", brokerURL, tok.Error())
	}
	tb.Cleanup(func() { c.Disconnect(250) })
	if tok := c.Subscribe(sparkplug.GroupFilter(group), 1, w.handle); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		tb.Fatalf("subscriber: subscribe: %v", tok.Error())
	}
	return w
}

func (w *sparkplugWatch) handle(_ paho.Client, m paho.Message) {
	w.mu.Lock()
	defer w.mu.Unlock()
	u, err := w.host.Handle(m.Topic(), m.Payload(), time.Now())
	if u.Topic.EdgeNode != w.node {
		return
	}
	if err != nil {
		w.counts.errors++
		w.counts.lastError = err.Error()
		return
	}
	switch u.Topic.Type {
	case sparkplug.DBIRTH:
		w.born[u.Topic.Device] = true
		select {
		case w.bornCond <- struct{}{}:
		default:
		}
	case sparkplug.DDATA, sparkplug.NDATA:
		w.counts.messages++
		w.counts.samples += len(u.Samples)
		w.counts.lost += int(u.Lost)
		w.counts.data[u.Topic.Device]++
	}
}

// waitBorn waits until every device has been born, and returns those that
// were not by the deadline.
func (w *sparkplugWatch) waitBorn(devices []string, timeout time.Duration) []string {
	deadline := time.After(timeout)
	for {
		w.mu.Lock()
		var missing []string
		for _, d := range devices {
			if !w.born[d] {
				missing = append(missing, d)
			}
		}
		w.mu.Unlock()
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-w.bornCond:
		case <-deadline:
			return missing
		}
	}
}

func (w *sparkplugWatch) snapshot() watchCounts {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.counts
	c.data = make(map[string]int, len(w.counts.data))
	for k, v := range w.counts.data {
		c.data[k] = v
	}
	return c
}

// silentSince returns the devices that sent no data between before and c.
func (c watchCounts) silentSince(before watchCounts, devices []string) []string {
	var silent []string
	for _, d := range devices {
		if c.data[d] <= before.data[d] {
			silent = append(silent, d)
		}
	}
	slices.Sort(silent)
	return silent
}
