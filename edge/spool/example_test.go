package spool_test

import (
	"fmt"
	"log"
	"os"
	"time"

	"github.com/rackwatch/rackwatch/edge/sample"
	"github.com/rackwatch/rackwatch/edge/spool"
)

// The publisher's loop: append numbered batches, publish from Peek,
// acknowledge what the broker confirmed. What is left at Close comes back
// after a restart, marked Replayed.
func Example() {
	dir, err := os.MkdirTemp("", "spool")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	sp, err := spool.Open(dir, spool.Opts{})
	if err != nil {
		log.Fatal(err)
	}
	ts := time.Date(2025, 11, 26, 12, 0, 0, 0, time.UTC)
	for first := uint64(0); first < 6; first += 2 {
		err := sp.Append(spool.Record{Device: "rack12", First: first, Samples: []sample.Sample{
			{Metric: sample.TemperatureCelsius, Labels: sample.L("sensor", "inlet"), Value: sample.Float(23.5), Unit: "celsius", TS: ts},
			{Metric: sample.IfInErrors, Labels: sample.L("ifname", "eth0"), Value: sample.Uint(18446744073709551615), Unit: "packets", TS: ts},
		}})
		if err != nil {
			log.Fatal(err)
		}
	}
	recs, _ := sp.Peek(2)
	for _, r := range recs {
		fmt.Println("publish", r.Device, r.First, r.End(), r.Replayed)
	}
	sp.Ack(recs[len(recs)-1].End()) // the broker confirmed both
	if err := sp.Close(); err != nil {
		log.Fatal(err)
	}

	sp, err = spool.Open(dir, spool.Opts{})
	if err != nil {
		log.Fatal(err)
	}
	defer sp.Close()
	recs, _ = sp.Peek(16)
	for _, r := range recs {
		fmt.Println("replay", r.Device, r.First, r.End(), r.Replayed, r.Samples[1].Value)
	}
	fmt.Println("next number at least", sp.End())
	// Output:
	// publish rack12 0 2 false
	// publish rack12 2 4 false
	// replay rack12 4 6 true 18446744073709551615
	// next number at least 6
}
