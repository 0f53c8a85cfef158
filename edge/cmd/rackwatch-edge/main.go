// Command rackwatch-edge is the agent that runs on a rack's controller: it
// reads the rack's I2C sensors, polls its switches and BMCs over SNMP and
// publishes everything to MQTT as Sparkplug B.
//
//	rackwatch-edge [run] [-config FILE]
//	rackwatch-edge check-config FILE
//	rackwatch-edge read [-config FILE]
//	rackwatch-edge i2c scan|read|chips ...
//	rackwatch-edge snmp poll --target HOST:PORT ...
//	rackwatch-edge version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rackwatch/rackwatch/edge/agent"
	"github.com/rackwatch/rackwatch/edge/config"
	"github.com/rackwatch/rackwatch/edge/edgenode"
	"github.com/rackwatch/rackwatch/edge/sample"
	"gopkg.in/yaml.v3"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/host/v3"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const defaultConfig = "/etc/rackwatch/edge.yaml"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "version":
		fmt.Fprintf(stdout, "rackwatch-edge %s\n", version)
		return 0
	case "check-config":
		if len(args) != 1 {
			fmt.Fprintln(stderr, "usage: rackwatch-edge check-config FILE")
			return 2
		}
		cfg, err := config.Load(args[0])
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		for _, w := range cfg.Warnings() {
			fmt.Fprintf(stderr, "warning: %s\n", w)
		}
		out, _ := yaml.Marshal(cfg) // secrets marshal as <secret>
		fmt.Fprintf(stdout, "%s: ok\n---\n%s", args[0], out)
		return 0
	case "read":
		return read(args, stdout, stderr)
	case "i2c":
		return i2cCmd(args, stdout, stderr)
	case "snmp":
		return snmpCmd(args, stdout, stderr)
	case "run":
		fs := flag.NewFlagSet("run", flag.ContinueOnError)
		fs.SetOutput(stderr)
		path := fs.String("config", defaultConfig, "configuration `file`")
		if err := fs.Parse(args); err != nil {
			return 2
		}
		cfg, err := config.Load(*path)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		log, level := newLevelLogger(stderr, cfg.Log.Level)
		for _, w := range cfg.Warnings() {
			log.Warn("configuration: " + w)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		nodes := make(chan *edgenode.Node, 1)
		hupDone := reloadOnHangup(ctx, *path, nodes, log)
		defer hupDone()
		err = edgenode.Run(ctx, cfg, edgenode.Opts{Logger: log, LogLevel: level, OpenBus: openBus, Ready: func(n *edgenode.Node) { nodes <- n }})
		if err != nil {
			log.Error("edge node stopped", "err", err)
			return 1
		}
		return 0
	default:
		fmt.Fprintf(stderr, "rackwatch-edge: unknown command %q (commands: run, read, i2c, snmp, check-config, version)\n", cmd)
		return 2
	}
}

// reloadOnHangup reloads the configuration file into the running node on
// each SIGHUP, the daemon convention (systemctl reload); one that arrives
// while the node is being built is applied once it runs. An invalid file is
// logged and changes nothing. The returned function stops it and waits.
func reloadOnHangup(ctx context.Context, path string, nodes <-chan *edgenode.Node, log *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var node *edgenode.Node
		pending := false // a SIGHUP came while the node was being built
		for {
			select {
			case <-ctx.Done():
				return
			case node = <-nodes:
				if !pending {
					continue
				}
			case <-hup:
				if node == nil {
					pending = true
					continue
				}
			}
			pending = false
			log.Info("SIGHUP: reloading the configuration", "path", path)
			_ = node.ReloadFile(ctx, path) // logged by the node
		}
	}()
	return func() {
		signal.Stop(hup)
		cancel()
		<-done
	}
}

// read collects once from every configured source and prints the samples
// as JSON lines (the schema of docs/wire.md), for checking wiring and
// profiles in the field without a broker.
func read(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("read", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", defaultConfig, "configuration `file`")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	built, err := agent.Build(cfg, openBus, time.Now, nil)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer built.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := 0
	var line []byte
	for _, src := range built.Sources {
		samples, err := src.Collect(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", src.Device(), err)
			code = 1
		}
		for _, s := range samples {
			line = append(sample.AppendJSON(line[:0], s), '\n')
			stdout.Write(line)
		}
		src.Close()
	}
	return code
}

// openBus opens a real I2C bus through periph's host drivers, initialised
// on first use so that a configuration without real buses never touches
// the hardware.
func openBus(name string) (i2c.BusCloser, error) {
	if _, err := host.Init(); err != nil {
		return nil, fmt.Errorf("periph host init: %w", err)
	}
	if len(i2creg.All()) == 0 {
		return nil, errors.New("no I2C bus on this machine (is the i2c-dev kernel module loaded?)")
	}
	return i2creg.Open(name)
}

// newLevelLogger returns a logger and its level, which a configuration
// reload sets.
func newLevelLogger(w io.Writer, level string) (*slog.Logger, *slog.LevelVar) {
	l := new(slog.LevelVar)
	_ = l.UnmarshalText([]byte(level)) // validated by config
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), l
}
