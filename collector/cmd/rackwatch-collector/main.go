// Command rackwatch-collector correlates rack telemetry from the edges with
// load-balancer latency and drains API nodes that are hot and slow, then
// restores them once they cool.
//
//	rackwatch-collector [run] [-config FILE]
//	rackwatch-collector demo [--for DURATION] [--scenario NAME] [--listen ADDR] [--mqtt-listen ADDR] [--no-haproxy]
//	rackwatch-collector check-config FILE
//	rackwatch-collector keygen -id KEY_ID [-dir DIR]
//	rackwatch-collector version
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/rackwatch/rackwatch/collector/config"
	"github.com/rackwatch/rackwatch/collector/demo"
	"github.com/rackwatch/rackwatch/collector/service"
	"github.com/rackwatch/rackwatch/edge/cmdsign"
	"gopkg.in/yaml.v3"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const defaultConfig = "/etc/rackwatch/collector.yaml"

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
		fmt.Fprintf(stdout, "rackwatch-collector %s\n", version)
		return 0
	case "check-config":
		if len(args) != 1 {
			fmt.Fprintln(stderr, "usage: rackwatch-collector check-config FILE")
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
		var level slog.Level
		_ = level.UnmarshalText([]byte(cfg.Log.Level)) // validated by config
		log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
		for _, w := range cfg.Warnings() {
			log.Warn("configuration: " + w)
		}
		svc, err := service.New(cfg, service.Opts{Logger: log})
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := svc.Run(ctx); err != nil {
			log.Error("collector stopped", "err", err)
			return 1
		}
		return 0
	case "demo":
		return runDemo(args, stdout, stderr)
	case "keygen":
		return runKeygen(args, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "rackwatch-collector: unknown command %q (commands: run, demo, check-config, keygen, version)\n", cmd)
		return 2
	}
}

// runDemo runs the demo of collector/demo in this process.
func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	forD := fs.Duration("for", 0, "end after this `duration` and print a summary (default: run until interrupted)")
	scenario := fs.String("scenario", "all", "scenario `name`: "+strings.Join(demo.Scenarios(), ", "))
	listen := fs.String("listen", demo.DefaultListen, "status page and API `address`")
	mqttListen := fs.String("mqtt-listen", demo.DefaultMQTTListen, "embedded MQTT broker `address`")
	noHAProxy := fs.Bool("no-haproxy", false, "use the built-in balancer even if HAProxy is installed")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "rackwatch-collector demo: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	_, err := demo.Run(ctx, demo.Opts{Scenario: *scenario, For: *forD, Listen: *listen, MQTTListen: *mqttListen,
		NoHAProxy: *noHAProxy, Out: stdout, Logger: log})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

// runKeygen writes a new command signing key pair (docs/security.md, Key
// rotation) and prints what goes in the edges' configuration.
func runKeygen(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	id := fs.String("id", "", "key `id`, new for every key (e.g. the collector and the year: c2027a)")
	dir := fs.String("dir", ".", "`directory` to write <id>.key (mode 0600) and <id>.pub to")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *id == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: rackwatch-collector keygen -id KEY_ID [-dir DIR]")
		return 2
	}
	kp, err := cmdsign.WriteKeyPair(*dir, *id, nil)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s (private, mode 0600) and %s\n\n", kp.PrivateFile, kp.PublicFile)
	fmt.Fprintf(stdout, "collector.yaml:\n  commands:\n    key_id: %s\n    signing_key_file: %s\n\n", kp.ID, kp.PrivateFile)
	fmt.Fprintf(stdout, "edge.yaml, under commands.trusted_keys:\n    - id: %s\n      public_key: %q\n", kp.ID, cmdsign.EncodePublicKey(kp.Public))
	return 0
}
