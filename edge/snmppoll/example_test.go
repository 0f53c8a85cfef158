package snmppoll_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/rackwatch/rackwatch/edge/snmppoll"
)

// A switch polled with autodetection: the profiles follow from what the
// agent says and has. Samples come back even when some values were
// unusable: log the error, publish the samples.
func ExamplePoller_Poll() {
	p, err := snmppoll.New(&snmppoll.Opts{
		Name:      "tor1",
		Address:   "192.0.2.10:161",
		Community: "public",
	})
	if err != nil {
		slog.Error("snmp target", "err", err)
		return
	}
	defer p.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	samples, err := p.Poll(ctx)
	switch {
	case errors.Is(err, snmppoll.ErrNoMatch), errors.Is(err, snmppoll.ErrNoData):
		slog.Debug("snmp poll: nothing to read", "target", p.String(), "err", err)
	case err != nil:
		slog.Warn("snmp poll", "target", p.String(), "profiles", p.ActiveProfiles(), "err", err)
	}
	for _, s := range samples {
		_ = s // publish
	}
}

// A BMC polled with SNMPv3, authPriv, with a site's own profiles beside
// the built-in ones.
func ExampleNew_v3() {
	p, err := snmppoll.New(&snmppoll.Opts{
		Name:           "bmc12",
		Address:        "[2001:db8::12]:161",
		Version:        "3",
		User:           "rackwatch",
		AuthProtocol:   "SHA-256",
		AuthPassphrase: "correct horse battery",
		PrivProtocol:   "AES-256-C", // Reeder key extension, as Cisco and most BMCs
		PrivPassphrase: "staple and more",
		Profiles:       []string{"auto", "lldp"},
		ProfileDirs:    []string{"/etc/rackwatch/snmp-profiles"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
}

// The profiles a target can name.
func ExampleProfileNames() {
	fmt.Println(snmppoll.ProfileNames())
	// Output: [auto cisco-entity-sensor cisco-envmon entity-sensor hpe-ilo idrac if-mib lldp lm-sensors supermicro-aten supermicro-superdoctor]
}
