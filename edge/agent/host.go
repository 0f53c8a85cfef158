package agent

import (
	"context"
	"path/filepath"
	"time"

	"github.com/rackwatch/rackwatch/edge/config"
	"github.com/rackwatch/rackwatch/edge/hostsignals"
	"github.com/rackwatch/rackwatch/edge/sample"
)

func init() { register("host", hostEntries) }

// HostConfig is what the host source is built from.
type HostConfig struct {
	Device string
	Root   string
	Period time.Duration
	Kmsg   bool
}

func hostEntries(cfg *config.Config) []Entry {
	h := cfg.Host
	if !h.Enabled {
		return nil
	}
	c := HostConfig{Device: h.Device, Root: h.Root, Period: h.Period, Kmsg: h.Kmsg}
	return []Entry{{Kind: "host", Device: h.Device, Config: c, Build: c.build}}
}

func (c HostConfig) build(b *Builder) (Source, error) {
	src := &HostSource{Name: c.Device, Interval: c.Period, Reader: &hostsignals.Reader{Root: c.Root, Now: b.opts.Now}}
	if c.Kmsg {
		src.Kmsg = hostsignals.NewKmsg(filepath.Join(c.Root, "dev/kmsg"))
		src.Kmsg.Now = b.opts.Now
	}
	return src, nil
}

// HostSource publishes the signals of the host the edge runs on (host
// mode): sysfs counters at each period, and kernel log events counted as
// they arrive.
type HostSource struct {
	Name     string
	Reader   *hostsignals.Reader
	Kmsg     *hostsignals.Kmsg // nil when the kernel log is not watched
	Interval time.Duration
}

// Device implements Source.
func (s *HostSource) Device() string { return s.Name }

// Period implements Source.
func (s *HostSource) Period() time.Duration { return s.Interval }

// Collect implements Source.
func (s *HostSource) Collect(context.Context) ([]sample.Sample, error) {
	ss, err := s.Reader.Read()
	if s.Kmsg != nil {
		ss = append(ss, s.Kmsg.Samples()...)
	}
	return ss, err
}

// Run implements Background: it follows the kernel log.
func (s *HostSource) Run(ctx context.Context) error {
	if s.Kmsg == nil {
		return nil
	}
	return s.Kmsg.Run(ctx)
}

// Close implements Source.
func (s *HostSource) Close() error { return nil }
