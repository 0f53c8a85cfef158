package apinode_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/rackwatch/rackwatch/collector/demo/apinode"
	"github.com/rackwatch/rackwatch/edge/snmpemu"
)

// A node whose BMC reads its CPU temperature: the demo's wiring for one
// server. HAProxy checks /health and balances the other paths; an edge
// polls the BMC over SNMP and, in host mode, reads the node's sysfs root.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	node, err := apinode.Start(ctx, &apinode.Opts{Name: "node1"})
	if err != nil {
		log.Fatal(err)
	}
	defer node.Close()

	bmc, err := snmpemu.NewBMC(&snmpemu.BMCOpts{Name: "node1-idrac", CPUs: 1})
	if err != nil {
		log.Fatal(err)
	}
	m := node.Model()
	bmc.BindCPU(1, snmpemu.TemperatureFunc(m.CPUTemperature))
	bmc.BindInlet(snmpemu.TemperatureFunc(m.InletTemperature))
	agent, err := snmpemu.Start(ctx, &snmpemu.Opts{Table: bmc.Table()})
	if err != nil {
		log.Fatal(err)
	}
	defer agent.Close()

	r, err := http.Get("http://" + node.Addr() + "/health")
	if err != nil {
		log.Fatal(err)
	}
	r.Body.Close()
	fmt.Println(r.Status)
	// Output: 200 OK
}

// The thermal model on its own, on a clock the caller advances: a rack's
// cooling failure under full load throttles the CPU and doubles the
// service time.
func ExampleModel() {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	m, err := apinode.NewModel(apinode.Params{}, t0)
	if err != nil {
		log.Fatal(err)
	}
	m.SetBackgroundLoad(t0, 1)
	st := m.State(t0.Add(5 * time.Minute))
	fmt.Printf("healthy: %.0f °C, throttled %v, %v per request\n", st.CPU.Celsius(), st.Throttled, st.ServiceTime)

	t1 := t0.Add(5 * time.Minute)
	m.SetInlet(t1, 45)
	m.SetCooling(t1, 0.3)
	st = m.State(t1.Add(5 * time.Minute))
	fmt.Printf("cooling failure: throttled %v, %v per request, %s\n", st.Throttled, st.ServiceTime, st.Frequency)
	// Output:
	// healthy: 72 °C, throttled false, 5ms per request
	// cooling failure: throttled true, 10ms per request, 1.200GHz
}
