// Command floor links and initialises the third-party libraries the edge
// is required to use, with none of the edge's own work, and then idles.
// BenchmarkFootprint measures its RSS next to the agent's: the part of the
// footprint the edge's code does not control.
package main

import (
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/gosnmp/gosnmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"gopkg.in/yaml.v3"
	"periph.io/x/host/v3"
)

func main() {
	fail := func(err error) {
		os.Stderr.WriteString("floor: " + err.Error() + "\n")
		os.Exit(1)
	}
	var cfg struct{ Broker string }
	if err := yaml.Unmarshal([]byte("broker: tcp://127.0.0.1:1883\n"), &cfg); err != nil {
		fail(err)
	}
	if _, err := host.Init(); err != nil {
		fail(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	go http.Serve(ln, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// A client is made but not connected: the floor has no broker.
	_ = paho.NewClient(paho.NewClientOptions().AddBroker(cfg.Broker).SetTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12}))
	// Connecting a UDP socket sends nothing.
	snmp := &gosnmp.GoSNMP{Target: "127.0.0.1", Port: 161, Transport: "udp", Version: gosnmp.Version2c, Community: "public"}
	if err := snmp.Connect(); err != nil {
		fail(err)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	os.Stdout.WriteString("ready\n")
	<-stop
}
