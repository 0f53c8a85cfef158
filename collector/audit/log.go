package audit

import (
	"context"
	"log/slog"

	"github.com/rackwatch/rackwatch/collector/decide"
)

// logDecision writes one log record for d. Withheld actions, rollbacks and
// raised alarms are warnings: each asks an operator to look.
func (r *Recorder) logDecision(d decide.Decision) {
	level := slog.LevelInfo
	if !d.Taken || d.Action == decide.ActRollback || (d.Alarm != "" && d.AlarmActive) {
		level = slog.LevelWarn
	}
	ctx := context.Background()
	if !r.log.Enabled(ctx, level) {
		return
	}
	r.log.LogAttrs(ctx, level, "decision", attrs(d)...)
}

func attrs(d decide.Decision) []slog.Attr {
	rec := NewRecord(d)
	a := make([]slog.Attr, 0, 20)
	str := func(k, v string) {
		if v != "" {
			a = append(a, slog.String(k, v))
		}
	}
	a = append(a, slog.String("action", rec.Action))
	str("node", rec.Node)
	str("rack", rec.Rack)
	str("lb", rec.LB)
	str("backend", rec.Backend)
	str("server", rec.Server)
	str("from", rec.From)
	str("to", rec.To)
	str("desired", rec.Desired)
	a = append(a, slog.Bool("taken", rec.Taken))
	str("withheld", rec.Withheld)
	str("cause", rec.Cause)
	str("first_fired", rec.FirstFired)
	if rec.Alarm != "" {
		a = append(a, slog.String("alarm", rec.Alarm), slog.Bool("alarm_active", d.AlarmActive))
	}
	if rec.DryRun {
		a = append(a, slog.Bool("dry_run", true))
	}
	a = append(a, slog.String("actor", rec.Actor))
	if len(d.Evidence) > 0 {
		// evidence.<signal>.value=…, so a log query can select one signal.
		ev := make([]any, 0, len(d.Evidence))
		for _, e := range d.Evidence {
			g := []any{slog.Float64("value", e.Value), slog.Float64("threshold", e.Threshold),
				slog.String("unit", e.Unit), slog.Bool("firing", e.Firing)}
			if !e.Since.IsZero() {
				g = append(g, slog.Time("since", e.Since))
			}
			ev = append(ev, slog.Group(e.Signal, g...))
		}
		a = append(a, slog.Group("evidence", ev...))
	}
	return a
}
