package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/rackwatch/rackwatch/edge/config"
	"github.com/rackwatch/rackwatch/edge/sample"
	"github.com/rackwatch/rackwatch/edge/snmppoll"
)

func init() { register("snmp", snmpEntries) }

// SNMPConfig is what an SNMP source is built from: a target and the
// profile directories.
type SNMPConfig struct {
	Target      config.SNMP
	ProfileDirs []string
}

func snmpEntries(cfg *config.Config) []Entry {
	out := make([]Entry, 0, len(cfg.SNMP))
	for _, t := range cfg.SNMP {
		c := SNMPConfig{Target: t, ProfileDirs: cfg.SNMPProfiles}
		out = append(out, Entry{Kind: "snmp", Device: t.Name, Config: c, Build: c.build})
	}
	return out
}

func (c SNMPConfig) build(b *Builder) (Source, error) {
	o := c.Target.PollerOpts()
	o.Now, o.ProfileDirs = b.opts.Now, c.ProfileDirs
	p, err := snmppoll.New(o)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	return &SNMPSource{Name: c.Target.Name, Poller: p, Interval: c.Target.Period}, nil
}

// SNMPSource polls one SNMP target.
type SNMPSource struct {
	Name     string
	Poller   *snmppoll.Poller
	Interval time.Duration
}

// Device implements Source.
func (s *SNMPSource) Device() string { return s.Name }

// Period implements Source.
func (s *SNMPSource) Period() time.Duration { return s.Interval }

// Collect implements Source. The scheduler's deadline on ctx bounds the
// whole poll, and each request within it.
func (s *SNMPSource) Collect(ctx context.Context) ([]sample.Sample, error) {
	return s.Poller.Poll(ctx)
}

// Close implements Source.
func (s *SNMPSource) Close() error { return s.Poller.Close() }
