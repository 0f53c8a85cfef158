package agent

import (
	"context"
	"time"

	"github.com/rackwatch/rackwatch/edge/hostsignals"
	"github.com/rackwatch/rackwatch/edge/sample"
)

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
