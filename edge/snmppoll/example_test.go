package snmppoll_test

import (
	"context"
	"log/slog"
	"time"

	"github.com/rackwatch/rackwatch/edge/snmppoll"
)

// A switch polled for interface errors and link state. Samples come back
// even when some values were unusable: log the error, publish the samples.
func ExamplePoller_Poll() {
	p, err := snmppoll.New(&snmppoll.Opts{
		Name:      "tor1",
		Address:   "192.0.2.10:161",
		Community: "public",
		Profiles:  []string{"if-mib"},
	})
	if err != nil {
		slog.Error("snmp target", "err", err)
		return
	}
	defer p.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	samples, err := p.Poll(ctx)
	if err != nil {
		slog.Warn("snmp poll", "target", p.String(), "err", err)
	}
	for _, s := range samples {
		_ = s // publish
	}
}
