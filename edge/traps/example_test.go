package traps_test

import (
	"context"
	"fmt"
	"log"
	"net/netip"
	"os/signal"
	"syscall"
	"time"

	"github.com/rackwatch/rackwatch/edge/traps"
)

// The edge runs one Receiver beside its pollers: the targets name the
// devices, and each event's samples are published under its device.
func Example() {
	ifNames := func(device string, ifIndex int) (string, bool) {
		// The poller of device knows its ifIndex → ifName table.
		return "", false
	}
	r, err := traps.New(&traps.Opts{
		Addr:        "[::]:162",
		Communities: []string{"tor-community"},
		Users: []traps.User{
			// Traps from tor1, whose engine ID is configured on the switch.
			{Name: "rackwatch", EngineID: "0x80001f8880e9630000d61ff449", Auth: "SHA-256", AuthPassphrase: "auth passphrase", Priv: "AES", PrivPassphrase: "priv passphrase"},
			// INFORMs, localized to the receiver's own engine ID.
			{Name: "rackwatch", Auth: "SHA-256", AuthPassphrase: "auth passphrase", Priv: "AES", PrivPassphrase: "priv passphrase"},
		},
		Targets: map[netip.Addr]string{netip.MustParseAddr("192.0.2.10"): "tor1"},
		Handler: func(e traps.Event) {
			samples := e.Samples(ifNames)
			fmt.Println(e.Device, len(samples)) // hand them to the publisher instead
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := r.Run(ctx); err != nil {
		log.Fatal(err)
	}
}

func ExampleEvent_Samples() {
	down := false
	e := traps.Event{
		At:      time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		Device:  "tor1",
		TrapOID: traps.OIDLinkDown,
		Name:    traps.NameLinkDown,
		Count:   3,
		IfIndex: 12,
		OperUp:  &down,
	}
	ifNames := map[int]string{12: "swp12"}
	for _, s := range e.Samples(func(device string, ifIndex int) (string, bool) {
		n, ok := ifNames[ifIndex]
		return n, ok
	}) {
		fmt.Println(s.Series(), s.Value)
	}
	// Output:
	// snmp_traps_total{trap="linkDown"} 3
	// if_oper_up{ifname="swp12"} false
}
