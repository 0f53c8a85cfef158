package audit_test

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/rackwatch/rackwatch/collector/audit"
	"github.com/rackwatch/rackwatch/collector/decide"
)

func ExampleMarshalDecision() {
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	d := decide.Decision{At: at, Node: "api-3", LB: "edge-lb", Backend: "api", Server: "api-3",
		Action: decide.ActShed, From: decide.Full, To: decide.Shed, Desired: decide.Shed.Desired(), Taken: true,
		Cause: "hardware protection: temperature at its critical limit", Actor: "engine", FirstFired: "cpu_temperature",
		Evidence: []decide.Evidence{{Signal: "cpu_temperature", Value: 97, Threshold: 95, Unit: "°C", Firing: true, Since: at.Add(-time.Minute)}}}
	fmt.Println(string(audit.MarshalDecision(d)))
	// Output:
	// {"at":"2026-11-26T12:00:00.000Z","node":"api-3","lb":"edge-lb","backend":"api","server":"api-3","action":"shed","from":"full","to":"shed","desired":"ready 50%","taken":true,"cause":"hardware protection: temperature at its critical limit","evidence":[{"signal":"cpu_temperature","value":97,"threshold":95,"unit":"°C","firing":true,"since":"2026-11-26T11:59:00.000Z"}],"first_fired":"cpu_temperature","dry_run":false,"actor":"engine"}
}

func ExampleRecorder_Decisions() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // keep the output stable
			}
			return a
		}}))
	r, err := audit.New(audit.Opts{Logger: logger})
	if err != nil {
		panic(err)
	}
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	r.Record(decide.Decision{At: at, Node: "api-1", Action: decide.ActPinned, Taken: true, Actor: "alice", Cause: "pinned by alice: fan swap"})
	r.Record(decide.Decision{At: at.Add(time.Minute), Node: "api-2", Action: decide.ActShed, From: decide.Full, To: decide.Shed,
		Desired: decide.Shed.Desired(), Taken: false, Withheld: "global stop", Actor: "engine", Cause: "latency regression"})
	for _, d := range r.Decisions(audit.Filter{Limit: 10}) {
		fmt.Println(d.Node, d.Action, d.Actor)
	}
	// Output:
	// level=INFO msg=decision action=pinned node=api-1 taken=true cause="pinned by alice: fan swap" actor=alice
	// level=WARN msg=decision action=shed node=api-2 from=full to=shed desired="ready 50%" taken=false withheld="global stop" cause="latency regression" actor=engine
	// api-2 shed engine
	// api-1 pinned alice
}
