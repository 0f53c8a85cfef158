package service

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/rackwatch/rackwatch/collector/actuate"
	"github.com/rackwatch/rackwatch/collector/config"
	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/collector/ingest"
	"github.com/rackwatch/rackwatch/edge/cmdsign"
)

// runtimeOnly keeps the runtime-API actuator off the nodes whose HAProxy
// state an agent-check responder sets: the agent's next answer would undo
// a runtime drain.
type runtimeOnly struct {
	*actuate.HAProxy
	agent map[string]bool
}

func (a runtimeOnly) Apply(ctx context.Context, t decide.Target, d decide.Desired) error {
	if a.agent[t.Node] {
		return fmt.Errorf("service: node %s is steered by its agent-check responder: %w", t.Node, actuate.ErrNotHandled)
	}
	return a.HAProxy.Apply(ctx, t, d)
}

func (a runtimeOnly) Observe(ctx context.Context, ts []decide.Target) (map[decide.Target]actuate.Observed, error) {
	return a.HAProxy.Observe(ctx, slices.DeleteFunc(slices.Clone(ts), func(t decide.Target) bool { return a.agent[t.Node] }))
}

// mqttPublisher sends Sparkplug commands on the collector's connection.
type mqttPublisher struct{ g *ingest.Ingester }

func (p mqttPublisher) Publish(_ context.Context, topic string, payload []byte) error {
	return p.g.Publish(topic, 1, false, payload)
}

// actuators builds what carries decisions out: the HAProxy runtime API,
// lb_state commands to the host-mode edges of agent-checked nodes, and a
// webhook when configured.
func (s *Service) actuators(cfg *config.Config, rts map[string]actuate.Runtime, versions map[string]uint64) ([]actuate.Actuator, error) {
	lb, err := actuate.NewHAProxy(actuate.HAProxyOpts{LBs: rts, Logger: s.log})
	if err != nil {
		return nil, err
	}
	agent := map[string]config.HostRef{}
	for _, n := range cfg.Nodes {
		if n.AgentCheck {
			agent[n.Name] = *n.Host
		}
	}
	steered := map[string]bool{}
	for name := range agent {
		steered[name] = true
	}
	acts := []actuate.Actuator{runtimeOnly{lb, steered}}
	if len(agent) > 0 {
		signer, err := commandSigner(cfg, s.opts.Now)
		if err != nil {
			return nil, err
		}
		sp, err := actuate.NewSparkplug(actuate.SparkplugOpts{
			Name: "agent-check", Publisher: mqttPublisher{s.ingest}, Group: cfg.MQTT.Group, Versions: versions, Signer: signer,
			Edge: func(t decide.Target) (string, string, bool) {
				h, ok := agent[t.Node]
				return h.Edge, "lb", ok
			},
			Now: s.opts.Now, Logger: s.log,
		})
		if err != nil {
			return nil, err
		}
		s.spark = sp
		acts = append(acts, sp)
	}
	if w := cfg.Webhook; w != nil {
		wh, err := actuate.NewWebhook(actuate.WebhookOpts{Name: "webhook", URL: w.URL, TokenFile: w.TokenFile, Timeout: w.Timeout, Now: s.opts.Now, Logger: s.log})
		if err != nil {
			return nil, err
		}
		acts = append(acts, wh)
	}
	return acts, nil
}

// commandSigner returns the signer of cfg's commands section, or nil (an
// actuate.Signer, not a typed nil) when commands go unsigned.
func commandSigner(cfg *config.Config, now func() time.Time) (actuate.Signer, error) {
	c := cfg.Commands
	if c == nil {
		return nil, nil
	}
	key, err := cmdsign.LoadPrivateKey(c.SigningKeyFile)
	if err != nil {
		return nil, fmt.Errorf("service: commands.signing_key_file: %w", err)
	}
	signer, err := cmdsign.NewSigner(cmdsign.SignerOpts{KeyID: c.KeyID, Key: key, Validity: c.Validity,
		CounterPath: filepath.Join(cfg.StateDir, "command-counter.json"), Now: now})
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	return signer, nil
}
