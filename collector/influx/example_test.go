package influx_test

import (
	"log/slog"
	"time"

	"github.com/rackwatch/rackwatch/collector/influx"
	"github.com/rackwatch/rackwatch/edge/sample"
)

func ExampleNew() {
	sink, err := influx.New(&influx.Opts{
		URL:      "http://127.0.0.1:8086",
		Database: "rackwatch",
		Logger:   slog.Default(),
	})
	if err != nil {
		panic(err)
	}
	// Close flushes what is buffered.
	defer sink.Close()

	sink.WriteSample("edge-r12", "tmp102-48", sample.Sample{
		Metric: sample.TemperatureCelsius,
		Labels: sample.L("sensor", "inlet"),
		Value:  sample.Float(41.5),
		Unit:   "celsius",
		TS:     time.Now(),
	})
	sink.WriteDecision(influx.Decision{
		TS:      time.Now(),
		Node:    "node-7",
		Backend: "web",
		Server:  "s7",
		Action:  "drain",
		Reason:  "inlet 41.5 °C above 40 °C for 60 s",
	})
}
