package snmpemu_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/rackwatch/rackwatch/edge/snmpemu"
	"github.com/rackwatch/rackwatch/edge/snmppoll"
	"periph.io/x/conn/v3/physic"
)

// A rack's emulated devices: a switch that sends its link traps to the
// edge, and a BMC whose CPU temperature comes from a model. The edge polls
// them like real devices.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	sw, err := snmpemu.NewSwitch(&snmpemu.SwitchOpts{Name: "rack2-tor", Ports: 8})
	if err != nil {
		log.Fatal(err)
	}
	// In a demo each device takes its own loopback address (127.0.0.2,
	// ...) so that the edge's trap receiver can tell them apart.
	swAgent, err := snmpemu.Start(ctx, &snmpemu.Opts{Table: sw.Table(), TrapAddr: "127.0.0.1:1162"})
	if err != nil {
		log.Fatal(err)
	}
	defer swAgent.Close()
	sw.SetNotifier(swAgent)

	bmc, err := snmpemu.NewBMC(&snmpemu.BMCOpts{Name: "node7-idrac"})
	if err != nil {
		log.Fatal(err)
	}
	cpu := func(time.Time) physic.Temperature { return physic.ZeroCelsius + 88*physic.Celsius }
	bmc.BindCPU(1, snmpemu.TemperatureFunc(cpu))
	bmcAgent, err := snmpemu.Start(ctx, &snmpemu.Opts{Table: bmc.Table()})
	if err != nil {
		log.Fatal(err)
	}
	defer bmcAgent.Close()

	// Scenario: a CRC storm on port 3.
	sw.CRCStorm(3, 50)

	p, err := snmppoll.New(&snmppoll.Opts{Name: "node7-idrac", Address: bmcAgent.Addr()})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	samples, err := p.Poll(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range samples {
		if s.Series() == `temperature_celsius{sensor="CPU1 Temp"}` {
			fmt.Println(p.ActiveProfiles(), s.Series(), s.Value)
		}
	}
	// Output: [idrac] temperature_celsius{sensor="CPU1 Temp"} 88
}

// A counter that ramps: read at any time, it holds exactly rate × elapsed.
func ExampleTable_SetCounterRate() {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	t := snmpemu.NewTable(func() time.Time { return now })
	const fcs = "1.3.6.1.2.1.10.7.2.1.3.1"
	t.Set(fcs, snmpemu.Counter32(100))
	t.SetCounterRate(fcs, 25)
	now = now.Add(10 * time.Second)
	v, _ := t.Get(fcs)
	fmt.Println(v.V)
	// Output: 350
}
