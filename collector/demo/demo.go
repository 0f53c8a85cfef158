package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/rackwatch/rackwatch/collector/audit"
	"github.com/rackwatch/rackwatch/collector/config"
	"github.com/rackwatch/rackwatch/collector/demo/balancer"
	"github.com/rackwatch/rackwatch/collector/service"
	edgeconfig "github.com/rackwatch/rackwatch/edge/config"
	"github.com/rackwatch/rackwatch/edge/edgenode"
	"github.com/rackwatch/rackwatch/edge/snmpemu"
)

// Defaults of Opts.
const (
	DefaultListen     = "127.0.0.1:8080"
	DefaultMQTTListen = "127.0.0.1:1883"
	// demoRate is the users' traffic through the load balancer, in
	// requests per second: enough for HAProxy's latency averages to move
	// within a second or two.
	demoRate = 120
	// maxInFlight bounds the users' requests outstanding at once.
	maxInFlight = 2048
	// warmup lets every edge come online and every node's latency form a
	// baseline before the first fault.
	warmup = 10 * time.Second
)

// Opts configures Run.
type Opts struct {
	// Scenario is a name from Scenarios; empty means "all".
	Scenario string
	// For ends the demo after this long; zero runs until ctx ends,
	// repeating the scenario.
	For time.Duration
	// Listen is the collector's HTTP address (status page and API), and
	// MQTTListen its embedded broker's.
	Listen, MQTTListen string
	// NoHAProxy uses the built-in balancer even where HAProxy is installed.
	NoHAProxy bool
	// Out receives the narration; Logger the components' warnings.
	Out    io.Writer
	Logger *slog.Logger
}

// portError explains a port the demo cannot bind, naming the flag that
// moves it.
func portError(what, addr, flag string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("demo: %s: %s is already in use: stop what listens there, or run the demo with %s 127.0.0.1:<free port>", what, addr, flag)
	}
	return fmt.Errorf("demo: %s: %s: %w (set another address with %s)", what, addr, err, flag)
}

// checkPort tells a port in use before the components start.
func checkPort(what, addr, flag string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return portError(what, addr, flag, err)
	}
	return ln.Close()
}

// world is everything the demo runs.
type world struct {
	opts  Opts
	dir   string
	log   *slog.Logger
	narr  *narrator
	nodes map[string]*node // by node name

	switches []*snmpemu.Switch // by rack-1
	inlets   []*rackAir        // by rack-1

	// lbOnly runs the nodes and the load balancer without rackwatch:
	// HAProxy alone, with its health checks, for comparison.
	lbOnly bool
	rate   int // users' requests per second

	lbKind    string
	lbAddress string             // the runtime socket, or a description of the built-in balancer
	to        requester          // the users' way in
	lb        service.Runtime    // the built-in balancer; nil with HAProxy
	builtin   *balancer.Balancer // the same, for closing
	proxy     *haproxyProc
	load      *load

	edgeNodes []*edgenode.Node // by rack-1, set once built
	edgesMu   sync.Mutex

	collMu    sync.Mutex
	collStop  context.CancelFunc
	collDone  chan error
	collector *config.Config

	sub paho.Client
}

// Run runs the demo until opts.For has passed or ctx ends, and returns its
// summary.
func Run(ctx context.Context, opts Opts) (Summary, error) {
	opts.Listen = cmpOr(opts.Listen, DefaultListen)
	opts.MQTTListen = cmpOr(opts.MQTTListen, DefaultMQTTListen)
	sc, err := lookup(cmpOr(opts.Scenario, "all"))
	if err != nil {
		return Summary{}, err
	}
	if err := checkPort("status page and API", opts.Listen, "--listen"); err != nil {
		return Summary{}, err
	}
	if err := checkPort("embedded MQTT broker", opts.MQTTListen, "--mqtt-listen"); err != nil {
		return Summary{}, err
	}
	if opts.For > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.For)
		defer cancel()
	}
	w, stop, err := setUp(opts, false, demoRate)
	if err != nil {
		return Summary{}, err
	}
	defer stop()
	w.header(sc)
	w.waitOnline(ctx)
	if ctx.Err() == nil {
		w.narr.say("warming up for %s: every node's latency forms its baseline", warmup)
		sleep(ctx, warmup)
	}
	for ctx.Err() == nil {
		sc.play(ctx, w)
		if opts.For > 0 {
			// One pass with --for; the rest of the time is the quiet
			// after it.
			<-ctx.Done()
		}
	}
	s := w.narr.summary()
	s.Scenario = sc.name
	s.Duration = time.Since(w.narr.start)
	s.Balancer = w.lbKind
	for _, win := range w.load.Windows() {
		s.Requests += len(win.Latencies) + win.Errors
		s.Errors += win.Errors
	}
	s.P99 = allWindows(w.load.Windows()).Percentile(99)
	s.Print(w.opts.Out)
	return s, nil
}

// setUp starts a world: rackwatch and its racks, or with lbOnly the nodes
// and their load balancer alone, and the users' load at rate. stop
// undoes it all.
func setUp(opts Opts, lbOnly bool, rate int) (w *world, stop func(), err error) {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	dir, err := os.MkdirTemp("", "rackwatch-demo-")
	if err != nil {
		return nil, nil, fmt.Errorf("demo: %w", err)
	}
	w = &world{opts: opts, dir: dir, log: opts.Logger, narr: newNarrator(opts.Out), nodes: map[string]*node{},
		lbOnly: lbOnly, rate: rate}
	ctx, stopAll := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	stop = func() {
		stopAll()
		wg.Wait()
		w.close()
		os.RemoveAll(dir)
	}
	if err := w.start(ctx, &wg); err != nil {
		stop()
		return nil, nil, err
	}
	return w, stop, nil
}

func allWindows(ws []window) *window {
	var all window
	for _, w := range ws {
		all.Latencies = append(all.Latencies, w.Latencies...)
		all.Errors += w.Errors
	}
	return &all
}

// sleep waits for d or the end of ctx.
func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// start brings everything up: nodes, load balancer, SNMP devices, the
// collector and its broker, the edges and the users' load.
func (w *world) start(ctx context.Context, wg *sync.WaitGroup) error {
	logAddr, err := w.startNodes(ctx)
	if err != nil {
		return err
	}
	if !w.lbOnly {
		if err := w.startRackwatch(ctx, wg, logAddr); err != nil {
			return err
		}
	}
	w.load = newLoad(w.to, w.rate, maxInFlight, time.Second)
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.load.Run(ctx)
	}()
	return nil
}

// startNodes starts the API nodes and the load balancer in front of them,
// which logs requests to the returned address.
func (w *world) startNodes(ctx context.Context) (logAddr string, err error) {
	var servers []lbServer
	var builtin []balancer.Server
	for r := 1; r <= racks; r++ {
		air := newRackAir()
		w.inlets = append(w.inlets, air)
		for n := 1; n <= nodesPerRack; n++ {
			nd, err := startNode(ctx, nodeName(r, n), air)
			if err != nil {
				return "", err
			}
			w.nodes[nd.name] = nd
			servers = append(servers, lbServer{Name: nd.name, Addr: nd.Addr()})
			builtin = append(builtin, balancer.Server{Name: nd.name, URL: "http://" + nd.Addr() + "/"})
		}
	}
	if logAddr, err = freeUDP(); err != nil {
		return "", err
	}
	w.lbAddress = "built-in balancer"
	if bin, ok := lookHAProxy(); ok && !w.opts.NoHAProxy {
		p, err := startHAProxy(ctx, bin, w.dir, logAddr, backend, servers)
		if err != nil {
			return "", err
		}
		w.proxy, w.lbAddress = p, p.Socket
		w.lbKind = "HAProxy (" + bin + ")"
		w.to = httpRequester{client: &http.Client{Timeout: 10 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: maxInFlight}}, url: "http://" + p.Frontend + "/"}
	} else {
		b, err := balancer.New(backend, builtin, nil, nil)
		if err != nil {
			return "", err
		}
		if err := b.LogTo(logAddr); err != nil {
			return "", err
		}
		w.lb, w.builtin = b, b
		w.lbKind = "the built-in balancer (HAProxy is not installed)"
		if w.opts.NoHAProxy {
			w.lbKind = "the built-in balancer (--no-haproxy)"
		}
		w.to = balancerRequester{b}
	}
	return logAddr, nil
}

// startRackwatch starts what rackwatch adds: the SNMP devices, the
// collector with its broker, and the rack controllers.
func (w *world) startRackwatch(ctx context.Context, wg *sync.WaitGroup, logAddr string) error {
	bmcAddrs := make([][]string, racks)
	torAddrs := make([]string, racks)
	for r := 1; r <= racks; r++ {
		sw, err := snmpemu.NewSwitch(&snmpemu.SwitchOpts{Name: "tor-" + rackName(r), Ports: nodesPerRack + 1})
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		a, err := snmpemu.Start(ctx, &snmpemu.Opts{Table: sw.Table(), Addr: "127.0.0.1:0", Community: community})
		if err != nil {
			return fmt.Errorf("demo: rack %d switch: %w", r, err)
		}
		w.switches = append(w.switches, sw)
		torAddrs[r-1] = a.Addr()
		for n := 1; n <= nodesPerRack; n++ {
			nd := w.nodes[nodeName(r, n)]
			b, err := snmpemu.NewBMC(&snmpemu.BMCOpts{Name: bmcName(r, n), CPUs: 1})
			if err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			if err := b.BindCPU(1, nd); err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			b.BindInlet(w.inlets[r-1])
			a, err := snmpemu.Start(ctx, &snmpemu.Opts{Table: b.Table(), Addr: "127.0.0.1:0", Community: community})
			if err != nil {
				return fmt.Errorf("demo: %s's BMC: %w", nd.name, err)
			}
			bmcAddrs[r-1] = append(bmcAddrs[r-1], a.Addr())
		}
	}

	path := filepath.Join(w.dir, "collector.yaml")
	if err := os.WriteFile(path, []byte(collectorConfig(filepath.Join(w.dir, "collector"), w.opts.MQTTListen, w.opts.Listen, w.lbAddress, logAddr)), 0o600); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		return fmt.Errorf("demo: the collector's configuration: %w", err)
	}
	w.collector = cfg
	if err := w.startCollector(); err != nil {
		return err
	}
	if err := w.subscribe(); err != nil {
		return err
	}

	w.edgeNodes = make([]*edgenode.Node, racks)
	for r := 1; r <= racks; r++ {
		state := filepath.Join(w.dir, edgeName(r))
		p := filepath.Join(w.dir, edgeName(r)+".yaml")
		text := edgeConfig(r, state, "tcp://"+w.opts.MQTTListen, torAddrs[r-1], bmcAddrs[r-1])
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		ecfg, err := edgeconfig.Load(p)
		if err != nil {
			return fmt.Errorf("demo: %s's configuration: %w", edgeName(r), err)
		}
		r := r
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := edgenode.Run(ctx, ecfg, edgenode.Opts{Logger: w.log.With("edge", edgeName(r)), Ready: func(n *edgenode.Node) {
				w.edgesMu.Lock()
				w.edgeNodes[r-1] = n
				w.edgesMu.Unlock()
				w.inlets[r-1].attach(n)
			}})
			if err != nil && ctx.Err() == nil {
				w.narr.say("%s stopped: %v", edgeName(r), err)
			}
		}()
	}
	return nil
}

// freeUDP returns a loopback UDP address that was free a moment ago, for
// the collector's request-log listener.
func freeUDP() (string, error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	defer pc.Close()
	return pc.LocalAddr().String(), nil
}

// balancerRequester sends the load through the built-in balancer.
type balancerRequester struct{ b *balancer.Balancer }

func (r balancerRequester) Do(ctx context.Context) error {
	_, err := r.b.Do(ctx)
	return err
}

// startCollector runs the collector service on w.collector until
// stopCollector.
func (w *world) startCollector() error {
	opts := service.Opts{Logger: w.log.With("component", "collector")}
	if w.lb != nil {
		opts.Runtimes = map[string]service.Runtime{lbName: w.lb}
	}
	svc, err := service.New(w.collector, opts)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return portError("embedded MQTT broker", w.opts.MQTTListen, "--mqtt-listen", err)
		}
		return fmt.Errorf("demo: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	w.collMu.Lock()
	w.collStop, w.collDone = cancel, done
	w.collMu.Unlock()
	return nil
}

// stopCollector stops the collector and its embedded broker.
func (w *world) stopCollector() {
	w.collMu.Lock()
	stop, done := w.collStop, w.collDone
	w.collStop, w.collDone = nil, nil
	w.collMu.Unlock()
	if stop == nil {
		return
	}
	stop()
	if err := <-done; err != nil {
		w.narr.say("the collector stopped with an error: %v", err)
	}
}

// subscribe follows the collector's decisions and the edges' births and
// deaths on the broker, as an operator's tool would.
func (w *world) subscribe() error {
	o := paho.NewClientOptions().AddBroker("tcp://" + w.opts.MQTTListen).SetClientID("rackwatch-demo-narrator").
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(200 * time.Millisecond).
		SetMaxReconnectInterval(time.Second).SetOrderMatters(false)
	o.SetOnConnectHandler(func(c paho.Client) {
		c.Subscribe(audit.Topic(hostID), 1, func(_ paho.Client, m paho.Message) { w.narr.decision(m.Payload()) })
	})
	w.sub = paho.NewClient(o)
	w.sub.Connect() // retried in the background until the broker is up
	return nil
}

// waitOnline waits until the collector has seen every edge's data.
func (w *world) waitOnline(ctx context.Context) {
	deadline := time.Now().Add(30 * time.Second)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		w.edgesMu.Lock()
		up := !slices.Contains(w.edgeNodes, nil)
		w.edgesMu.Unlock()
		if up {
			w.narr.say("%d rack controllers online, publishing to the collector", racks)
			return
		}
		sleep(ctx, 100*time.Millisecond)
	}
}

func (w *world) header(sc *scenario) {
	out := w.opts.Out
	fmt.Fprintf(out, "rackwatch demo: %d racks of %d API nodes, scenario %q: %s\n", racks, nodesPerRack, sc.name, sc.title)
	fmt.Fprintf(out, "  status page      http://%s/\n", w.opts.Listen)
	fmt.Fprintf(out, "  MQTT broker      tcp://%s (embedded in the collector)\n", w.opts.MQTTListen)
	fmt.Fprintf(out, "  load balancer    %s, %d requests/s of user traffic\n", w.lbKind, demoRate)
	if w.lb != nil {
		fmt.Fprintf(out, "                   the collector steers it through the same runtime calls as HAProxy; install haproxy to see the real one\n")
	}
	fmt.Fprintf(out, "  racks            ")
	var names []string
	for r := 1; r <= racks; r++ {
		var ns []string
		for n := 1; n <= nodesPerRack; n++ {
			ns = append(ns, nodeName(r, n))
		}
		names = append(names, fmt.Sprintf("%s (%s)", rackName(r), strings.Join(ns, " ")))
	}
	fmt.Fprintln(out, strings.Join(names, ", "))
	fmt.Fprintf(out, "  timings          ")
	var ts []string
	for _, t := range Timings {
		ts = append(ts, fmt.Sprintf("%s %s", t.Key, t.Value))
	}
	fmt.Fprintln(out, strings.Join(ts, ", "))
	fmt.Fprintln(out)
}

func (w *world) close() {
	if w.sub != nil {
		w.sub.Disconnect(100)
	}
	w.stopCollector()
	if w.proxy != nil {
		w.proxy.Stop()
	}
	if w.builtin != nil {
		w.builtin.Close()
	}
	names := make([]string, 0, len(w.nodes))
	for n := range w.nodes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		w.nodes[n].Close()
	}
}
