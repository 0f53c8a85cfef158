//go:build linux

package snmppoll

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/rackwatch/rackwatch/deploy/testrig"
	"gopkg.in/yaml.v3"
)

// BenchmarkVsSnmpExporter compares Pollers with Debian's
// prometheus-snmp-exporter 0.21 reading the same objects from the same
// net-snmp agents, in the same run:
//
//	go test -run '^$' -bench VsSnmpExporter ./edge/snmppoll/
//
// The exporter runs its if_mib module (shared/bench): a GET of sysUpTime.0
// and GETBULK walks of the subtrees 1.3.6.1.2.1.2 (ifNumber, ifTable) and
// 1.3.6.1.2.1.31.1.1 (ifXTable), max-repetitions 25. The Pollers run a
// profile made for the benchmark with exactly the module's ifTable and
// ifXTable columns, and the metrics of the if-mib profile that those
// columns carry (see writeVsProfile); version 2c, community public,
// max-repetitions 25, timeout 5 s and 3 retries, as the exporter's
// defaults. They do not read ifNumber.0, which no catalogue metric holds.
//
// Each iteration is one round of each side over the first N targets, all
// polled at once. The Pollers run in a process of their own (see
// BenchmarkPollerProcess), one goroutine per Poller; the exporter gets N
// concurrent HTTP scrapes over kept-alive connections, without gzip. Both
// processes are started afresh for each run of a sub-benchmark and
// warmed up with one round. The targets are UDP ports of vsAgents snmpd
// processes (target i on process i mod vsAgents), shared by both sides.
// It reports:
//
//   - reqs/target: SNMP messages the agents received per target poll
//     (snmpInPkts, RFC 3418), read before and after each round, less the
//     reads themselves;
//   - cpu-ms/target: CPU time of each side's process (user and system, all
//     threads) from the first round to the last, per target poll. The
//     polling process reports its own getrusage(2) RUSAGE_SELF; the
//     exporter's is /proc/<pid>/stat utime+stime, in 10 ms ticks. Each
//     process is idle outside its own rounds;
//   - round-ms: wall time of a round, as the polling process times it and
//     as the benchmark times the scrapes; the ratios are ours over theirs;
//   - vbs/target and vbs/s: values of the module's objects each side took
//     in (the Pollers' table cells plus sysUpTime; the exporter's own
//     snmp_scrape_pdus_returned), per target poll and per second of round;
//   - agent-vbs/target: varbinds the agents served (snmpInTotalReqVars),
//     which also counts what a GETBULK returns past the end of a column;
//   - rss-MB: VmRSS of each side's process after the rounds, in 10^6
//     bytes. The polling process is a Go test binary, whose runtime and
//     testing package are part of it, and its Pollers each compile the
//     profile set, as every Poller given Opts.ProfileDirs does.
//
// The targets for the Pollers are no more requests than the exporter, at
// most a third of its CPU per target poll and at most half its round time;
// they are logged, not enforced.
func BenchmarkVsSnmpExporter(b *testing.B) {
	e := startVsEnv(b)
	for _, n := range []int{1, 16, vsMaxTargets} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) { e.run(b, n) })
	}
}

const (
	// vsAgents is the number of snmpd processes serving the targets. Each
	// is single-threaded; several let the agents use every core, as
	// separate devices would.
	vsAgents     = 8
	vsMaxTargets = 128
	vsProfile    = "bench-if-mib"
	// RFC 3418 SNMPv2-MIB snmp group counters.
	snmpInPkts0         = ".1.3.6.1.2.1.11.1.0"
	snmpInTotalReqVars0 = ".1.3.6.1.2.1.11.13.0"
)

type vsEnv struct {
	targets []string // "127.0.0.1:port"; target i is served by agents[i%len(agents)]
	agents  []vsAgent
	bin     string // the exporter
	cfg     string // its module file
	profDir string // the Pollers' profile
}

// vsAgent is one snmpd process and the client that reads its counters.
type vsAgent struct {
	c *gosnmp.GoSNMP
	// overhead is what one read of the counters adds to the next delta:
	// the next read's own message, and this read's varbinds.
	overhead agentCounters
}

type agentCounters struct{ pkts, vars uint64 }

func (c agentCounters) sub(d agentCounters) agentCounters {
	return agentCounters{c.pkts - d.pkts, c.vars - d.vars}
}

func (c agentCounters) add(d agentCounters) agentCounters {
	return agentCounters{c.pkts + d.pkts, c.vars + d.vars}
}

func startVsEnv(b *testing.B) *vsEnv {
	b.Helper()
	e := &vsEnv{targets: make([]string, vsMaxTargets), cfg: exporterConfigPath(b)}
	var version string
	e.bin, version = exporterPath(b)
	e.profDir = writeVsProfile(b, e.cfg)
	perAgent := (vsMaxTargets + vsAgents - 1) / vsAgents
	for i := range vsAgents {
		// One snmpd listens on perAgent ports: the rig's and the rest
		// through agentaddress. A socket per target, as separate devices
		// have: one socket's receive buffer (rmem_default) drops datagrams
		// when a hundred requests arrive at once. Not logging each
		// message keeps the agent's own cost down, for both sides alike.
		extra := make([]string, perAgent-1)
		for k := range extra {
			extra[k] = "udp:" + freeUDP(b)
		}
		a := testrig.StartSnmpd(b, testrig.SnmpdOpts{Config: "dontLogTCPWrappersConnects yes\nagentaddress " + strings.Join(extra, ",")})
		addrs := append([]string{a.Addr}, stripUDP(extra)...)
		for k, addr := range addrs {
			if t := k*vsAgents + i; t < vsMaxTargets {
				e.targets[t] = addr
			}
		}
		va := vsAgent{c: a.Client(b, "")}
		c0 := va.read(b)
		va.overhead = va.read(b).sub(c0)
		e.agents = append(e.agents, va)
	}
	for i, addr := range e.targets {
		if err := snmpAnswers(addr); err != nil {
			b.Fatalf("target %d: %v", i, err)
		}
	}
	b.Logf("%d targets on %d snmpd processes; %s", vsMaxTargets, vsAgents, version)
	return e
}

// vsPeers are the two sides polling the first n targets: a polling
// process and an exporter of their own, started for each run so that
// their memory is that of n targets.
type vsPeers struct {
	ours    *pollerProc
	exp     *exporterProc
	client  *http.Client
	scrapes []string // the exporter's URL for each target
}

func (e *vsEnv) startPeers(b *testing.B, n int) *vsPeers {
	b.Helper()
	p := &vsPeers{ours: startPollerProc(b, e.targets[:n], e.profDir), exp: startExporter(b, e.bin, e.cfg)}
	for _, addr := range e.targets[:n] {
		p.scrapes = append(p.scrapes, p.exp.url+"/snmp?"+url.Values{"module": {exporterModule}, "target": {addr}}.Encode())
	}
	// Keep a connection per concurrent scrape, as a Prometheus server
	// does. No gzip: the comparison is of the SNMP side, not of the
	// exposition.
	tr := &http.Transport{MaxIdleConnsPerHost: 2 * n, DisableCompression: true}
	p.client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	b.Cleanup(tr.CloseIdleConnections)
	// Sockets, first-poll state and connections are set-up, not load.
	p.ours.poll(b, n)
	p.scrapeRound(b.Context(), b)
	return p
}

// run measures rounds over the first n targets.
func (e *vsEnv) run(b *testing.B, n int) {
	ctx := b.Context()
	p := e.startPeers(b, n)
	agents := e.agents[:min(n, len(e.agents))]
	type side struct {
		wall, cpu time.Duration
		agent     agentCounters
		values    int
	}
	var ours, theirs side
	rounds := 0
	ourCPU0 := p.ours.cpu
	expCPU0, err := procCPU(p.exp.pid)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		c0 := e.read(b, agents)
		v, wall := p.ours.poll(b, n)
		ours.values += v
		ours.wall += wall
		c1 := e.read(b, agents)
		t1 := time.Now()
		theirs.values += p.scrapeRound(ctx, b)
		theirs.wall += time.Since(t1)
		c2 := e.read(b, agents)
		ours.agent = ours.agent.add(c1.sub(c0))
		theirs.agent = theirs.agent.add(c2.sub(c1))
		rounds++
	}
	expCPU1, err := procCPU(p.exp.pid)
	if err != nil {
		b.Fatal(err)
	}
	theirs.cpu = expCPU1 - expCPU0
	ours.cpu = p.ours.cpu - ourCPU0

	var ov agentCounters
	for _, a := range agents {
		ov = ov.add(a.overhead)
	}
	ov.pkts *= uint64(rounds)
	ov.vars *= uint64(rounds)
	ours.agent, theirs.agent = ours.agent.sub(ov), theirs.agent.sub(ov)

	polls := float64(rounds * n)
	perPoll := func(v float64) float64 { return v / polls }
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	ratio := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	m := map[string]float64{
		"ours-reqs/target":          perPoll(float64(ours.agent.pkts)),
		"exporter-reqs/target":      perPoll(float64(theirs.agent.pkts)),
		"ours-agent-vbs/target":     perPoll(float64(ours.agent.vars)),
		"exporter-agent-vbs/target": perPoll(float64(theirs.agent.vars)),
		"ours-vbs/target":           perPoll(float64(ours.values)),
		"exporter-vbs/target":       perPoll(float64(theirs.values)),
		"ours-vbs/s":                float64(ours.values) / ours.wall.Seconds(),
		"exporter-vbs/s":            float64(theirs.values) / theirs.wall.Seconds(),
		"ours-cpu-ms/target":        perPoll(ms(ours.cpu)),
		"exporter-cpu-ms/target":    perPoll(ms(theirs.cpu)),
		"ours-round-ms":             ms(ours.wall) / float64(rounds),
		"exporter-round-ms":         ms(theirs.wall) / float64(rounds),
		"ours-rss-MB":               rssMB(b, fmt.Sprintf("/proc/%d/status", p.ours.pid)),
		"exporter-rss-MB":           rssMB(b, fmt.Sprintf("/proc/%d/status", p.exp.pid)),
		"reqs-ratio":                ratio(float64(ours.agent.pkts), float64(theirs.agent.pkts)),
		"cpu-ratio":                 ratio(float64(ours.cpu), float64(theirs.cpu)),
		"round-ratio":               ratio(float64(ours.wall), float64(theirs.wall)),
	}
	if theirs.cpu == 0 {
		// Less than one tick of /proc/<pid>/stat: no ratio to speak of.
		b.Logf("N=%d, %d rounds: the exporter used under 10 ms of CPU; run longer (-benchtime) for CPU figures", n, rounds)
		delete(m, "exporter-cpu-ms/target")
		delete(m, "cpu-ratio")
	}
	for unit, v := range m {
		b.ReportMetric(v, unit)
	}
	var missed []string
	if m["reqs-ratio"] > 1 {
		missed = append(missed, fmt.Sprintf("requests %.2f× the exporter's (target ≤ 1)", m["reqs-ratio"]))
	}
	if r, ok := m["cpu-ratio"]; ok && r > 1.0/3 {
		missed = append(missed, fmt.Sprintf("CPU %.2f× the exporter's (target ≤ 0.33)", m["cpu-ratio"]))
	}
	if m["round-ratio"] > 0.5 {
		missed = append(missed, fmt.Sprintf("round %.2f× the exporter's (target ≤ 0.5)", m["round-ratio"]))
	}
	if len(missed) > 0 {
		b.Logf("N=%d, %d rounds: targets missed: %s", n, rounds, strings.Join(missed, "; "))
	}
}

// read sums the counters of agents.
func (e *vsEnv) read(b *testing.B, agents []vsAgent) agentCounters {
	var c agentCounters
	for i := range agents {
		c = c.add(agents[i].read(b))
	}
	return c
}

func (a *vsAgent) read(b testing.TB) agentCounters {
	b.Helper()
	pkt, err := a.c.Get([]string{snmpInPkts0, snmpInTotalReqVars0})
	if err != nil {
		b.Fatalf("read snmpd counters: %v", err)
	}
	if len(pkt.Variables) != 2 || pkt.Variables[0].Type != gosnmp.Counter32 || pkt.Variables[1].Type != gosnmp.Counter32 {
		b.Fatalf("read snmpd counters: unexpected answer %+v", pkt.Variables)
	}
	return agentCounters{gosnmp.ToBigInt(pkt.Variables[0].Value).Uint64(), gosnmp.ToBigInt(pkt.Variables[1].Value).Uint64()}
}

// scrapeRound scrapes the targets through the exporter at once
// and returns the values it reports having read (snmp_scrape_pdus_returned).
func (p *vsPeers) scrapeRound(ctx context.Context, b *testing.B) int {
	errs := make([]error, len(p.scrapes))
	values := make([]int, len(p.scrapes))
	var wg sync.WaitGroup
	for i, u := range p.scrapes {
		wg.Go(func() { values[i], errs[i] = p.scrape(ctx, u) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	total := 0
	for _, v := range values {
		total += v
	}
	return total
}

var pdusReturned = []byte("\nsnmp_scrape_pdus_returned ")

func (p *vsPeers) scrape(ctx context.Context, u string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("scrape %s: %s: %.300s", u, resp.Status, body)
	}
	i := bytes.Index(body, pdusReturned)
	if i < 0 {
		return 0, fmt.Errorf("scrape %s: no snmp_scrape_pdus_returned", u)
	}
	rest := body[i+len(pdusReturned):]
	if j := bytes.IndexByte(rest, '\n'); j >= 0 {
		rest = rest[:j]
	}
	v, err := strconv.ParseFloat(string(rest), 64)
	if err != nil {
		return 0, fmt.Errorf("scrape %s: snmp_scrape_pdus_returned %q: %w", u, rest, err)
	}
	return int(v), nil
}

// freeUDP returns a loopback UDP address that was free a moment ago.
func freeUDP(b testing.TB) string {
	b.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

func stripUDP(addrs []string) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = strings.TrimPrefix(a, "udp:")
	}
	return out
}

// snmpAnswers checks that addr answers a GET of sysUpTime.0.
func snmpAnswers(addr string) error {
	host, port, err := splitAddress(addr)
	if err != nil {
		return err
	}
	g := &gosnmp.GoSNMP{Target: host, Port: port, Community: "public", Version: gosnmp.Version2c,
		Timeout: time.Second, Retries: 2, MaxOids: gosnmp.MaxOids}
	if err := g.Connect(); err != nil {
		return err
	}
	defer g.Conn.Close()
	if _, err := g.Get([]string{sysUpTime0}); err != nil {
		return fmt.Errorf("%s: %w", addr, err)
	}
	return nil
}

// exporterModuleConf is the part of a 0.21 snmp.yml module the benchmark
// reads.
type exporterModuleConf struct {
	Walk    []string `yaml:"walk"`
	Get     []string `yaml:"get"`
	Metrics []struct {
		Name    string `yaml:"name"`
		OID     string `yaml:"oid"`
		Lookups []struct {
			Labelname string `yaml:"labelname"`
			OID       string `yaml:"oid"`
		} `yaml:"lookups"`
	} `yaml:"metrics"`
}

// IF-MIB (RFC 2863) entries whose columns the if_mib module walks.
const (
	ifEntryOID  = "1.3.6.1.2.1.2.2.1"
	ifXEntryOID = "1.3.6.1.2.1.31.1.1.1"
	ifNumberOID = "1.3.6.1.2.1.2.1"
	sysUpTimeID = "1.3.6.1.2.1.1.3"
)

// writeVsProfile writes the profile vsProfile into a new directory and
// returns it. Its table has one column per ifTable and ifXTable object of
// the exporter's module (its metrics and lookups, which together are every
// column of both tables), so that both sides ask for the same objects; its
// metrics, labels and discontinuity column are the built-in if-mib
// profile's, less what refers to other tables. The columns no metric
// needs are listed after ifName and ifDescr as label sources, which only
// makes them walked.
func writeVsProfile(b testing.TB, cfgPath string) string {
	b.Helper()
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		b.Fatal(err)
	}
	var cfg map[string]exporterModuleConf
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		b.Fatalf("%s: %v", cfgPath, err)
	}
	mod, ok := cfg[exporterModule]
	if !ok {
		b.Fatalf("%s: no module %s", cfgPath, exporterModule)
	}
	// What the comparison assumes of the module.
	if !slices.Equal(mod.Walk, []string{"1.3.6.1.2.1.2", "1.3.6.1.2.1.31.1.1"}) || !slices.Equal(mod.Get, []string{sysUpTimeID + ".0"}) {
		b.Fatalf("%s: module %s walks %v and gets %v; the benchmark expects ifTable and ifXTable walked, sysUpTime.0 got", cfgPath, exporterModule, mod.Walk, mod.Get)
	}
	byOID := map[string]Column{}
	addCol := func(name, oid string) {
		switch {
		case strings.HasPrefix(oid, ifEntryOID+"."):
			byOID[oid] = Column{Name: name, OID: oid}
		case strings.HasPrefix(oid, ifXEntryOID+"."):
			byOID[oid] = Column{Name: name, OID: oid, Table: "ifXTable"}
		case oid == ifNumberOID || oid == sysUpTimeID:
		default:
			b.Fatalf("%s: %s (%s) is outside ifTable and ifXTable", cfgPath, name, oid)
		}
	}
	for _, m := range mod.Metrics {
		addCol(m.Name, m.OID)
		for _, l := range m.Lookups {
			addCol(l.Labelname, l.OID)
		}
	}
	cols := make([]Column, 0, len(byOID))
	for _, c := range byOID {
		cols = append(cols, c)
	}
	slices.SortFunc(cols, func(x, y Column) int { return compareOID(x.OID, y.OID) })
	have := map[string]bool{}
	for _, c := range cols {
		have[c.Name] = true
	}

	builtin, err := LoadProfiles()
	if err != nil {
		b.Fatal(err)
	}
	i := slices.IndexFunc(builtin, func(p Profile) bool { return p.Name == "if-mib" })
	if i < 0 || len(builtin[i].Tables) == 0 {
		b.Fatal("no built-in if-mib profile")
	}
	src := builtin[i].Tables[0]
	if len(src.Filter) > 0 {
		b.Fatal("if-mib has a filter: extend writeVsProfile")
	}
	keep := func(names Names) Names {
		var out Names
		for _, n := range names {
			if have[n] {
				out = append(out, n)
			}
		}
		return out
	}
	t := Table{Name: src.Name, Columns: cols, DedupeLabel: src.DedupeLabel}
	used := map[string]bool{}
	if have[src.Discontinuity] {
		t.Discontinuity = src.Discontinuity
		used[src.Discontinuity] = true
	}
	for _, m := range src.Metrics {
		if len(m.When) > 0 || m.ScaleFrom != "" || m.PrecisionFrom != "" {
			b.Fatalf("if-mib metric %s has conditions or scales: extend writeVsProfile", m.Name)
		}
		if m.From = keep(m.From); len(m.From) == 0 {
			continue
		}
		for _, n := range m.From {
			used[n] = true
		}
		t.Metrics = append(t.Metrics, m)
	}
	for _, l := range src.Labels {
		l.From = keep(l.From)
		for _, n := range l.From {
			used[n] = true
		}
		t.Labels = append(t.Labels, l)
	}
	if len(t.Labels) == 0 {
		b.Fatal("if-mib has no label")
	}
	for _, c := range cols {
		if !used[c.Name] {
			t.Labels[0].From = append(t.Labels[0].From, c.Name)
		}
	}
	p := Profile{Version: 1, Name: vsProfile, Description: "The ifTable and ifXTable columns of snmp_exporter's if_mib module.", Tables: []Table{t}}
	out, err := yaml.Marshal(&p)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, vsProfile+".yaml"), out, 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}
