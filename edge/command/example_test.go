package command_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"time"

	"github.com/rackwatch/rackwatch/drivers/i2cemu"
	"github.com/rackwatch/rackwatch/drivers/max31790"
	"github.com/rackwatch/rackwatch/edge/command"
	"github.com/rackwatch/rackwatch/edge/sparkplug"
)

// An edge with a MAX31790 named "fans" receives a fan override from the
// collector, a resend of it, and sees it expire.
func Example() {
	var bus i2cemu.Bus
	chip := i2cemu.NewMAX31790()
	chip.SetConversionTime(0)
	if err := bus.Attach(0x20, chip); err != nil {
		log.Fatal(err)
	}
	fans, err := max31790.New(&bus, &max31790.Opts{Addr: 0x20, Fans: []max31790.Fan{{Channel: 3}}})
	if err != nil {
		log.Fatal(err)
	}

	now := time.UnixMilli(1795694340000).UTC()
	m, err := command.New(command.Opts{
		StatePath: "", // an edge passes a file in its state directory
		Appliers:  map[command.Kind]command.Applier{command.KindFanDuty: command.FanDuty{"fans": fans}},
		Now:       func() time.Time { return now },
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		log.Fatal(err)
	}

	// What the collector publishes on spBv1.0/<group>/DCMD/<edge>/fans.
	cmd := command.Command{ID: "c-7f3a", Version: 12, Kind: command.KindFanDuty, Device: "fans",
		Channel: 3, Duty: 0.8, Expires: now.Add(time.Minute), Issued: now}
	payload, err := command.NewPayload([]command.Command{cmd}, now)
	if err != nil {
		log.Fatal(err)
	}
	topic := sparkplug.DeviceTopic("rack", sparkplug.DCMD, "edge-1", "fans")

	ctx := context.Background()
	fmt.Println(m.HandleMessage(ctx, topic, payload))
	fmt.Println(m.HandleMessage(ctx, topic, payload)) // a resend
	d, _ := fans.TargetDuty(3)
	fmt.Println("duty during the override:", d)

	now = now.Add(time.Minute)
	m.Tick(ctx)
	d, _ = fans.TargetDuty(3)
	fmt.Println("duty after expiry:", d)
	c := m.Counters()
	fmt.Println("applied", c.Applied, "duplicate", c.Duplicate, "reverted", c.Reverted)
	// Output:
	// [applied c-7f3a v12 fan_duty/fans/3]
	// [duplicate c-7f3a v12 fan_duty/fans/3]
	// duty during the override: 80%
	// duty after expiry: 0%
	// applied 1 duplicate 1 reverted 1
}
