package statuspage

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/rackwatch/rackwatch/collector/audit"
)

// funcs are those of the page template, assets/index.html, which renders a
// Snapshot: the server-side, script-free version of what assets/app.js
// draws from each event. The two must show the same things in the same
// markup.
func (p *Page) funcs() template.FuncMap {
	return template.FuncMap{
		// asset is the URL of an embedded asset, versioned by its hash.
		"asset": func(name string) (string, error) {
			a, ok := p.files[name]
			if !ok {
				return "", fmt.Errorf("no asset %q", name)
			}
			return PathAssets + name + "?v=" + a.hash, nil
		},
		"state":    stateLabel,
		"temp":     tempLabel,
		"num":      numLabel,
		"stamp":    stamp,
		"spark":    sparkPoints,
		"sparkal":  sparkLabel,
		"rackname": rackName,
		"evidence": evidenceLabel,
		"weight": func(w *int) string {
			if w == nil {
				return "unknown"
			}
			return strconv.Itoa(*w) + " %"
		},
		"deref": func(b *bool) bool { return b != nil && *b },
	}
}

// stateLabel is a state as words.
func stateLabel(s string) string { return strings.ReplaceAll(s, "_", " ") }

func rackName(name string) string {
	if name == "" {
		return "no rack"
	}
	return "rack " + name
}

// tempLabel prints a temperature with its band when the band calls for
// attention, so that the colour is never the only cue.
func tempLabel(t Temp) string {
	if t.C == nil {
		return "no data"
	}
	s := strconv.FormatFloat(*t.C, 'f', 1, 64) + " °C"
	if t.Band == BandHot || t.Band == BandCritical {
		s += " " + t.Band
	}
	return s
}

// numLabel prints v with the given decimals and unit, or "–" for no data.
func numLabel(v *float64, decimals int, unit string) string {
	if v == nil {
		return "–"
	}
	s := strconv.FormatFloat(*v, 'f', decimals, 64)
	if unit != "" {
		s += " " + unit
	}
	return s
}

// stamp prints a time as the page does: UTC, to the second.
func stamp(t any) string {
	var tt time.Time
	switch v := t.(type) {
	case time.Time:
		tt = v
	case audit.Time:
		tt = v.Time
	}
	if tt.IsZero() {
		return ""
	}
	return tt.UTC().Format("01-02 15:04:05") + " UTC"
}

// Sparkline geometry: a 100×24 view box, the latency scaled from zero to
// the largest point.
const sparkW, sparkH = 100.0, 24.0

// sparkPoints returns the SVG polyline points of a latency history; gaps
// are skipped.
func sparkPoints(h []*float64) string {
	top := 0.0
	for _, v := range h {
		if v != nil && *v > top {
			top = *v
		}
	}
	if top <= 0 || len(h) < 2 {
		return ""
	}
	var b strings.Builder
	for i, v := range h {
		if v == nil || math.IsNaN(*v) {
			continue
		}
		x := float64(i) * sparkW / float64(len(h)-1)
		y := sparkH - 1 - *v/top*(sparkH-2)
		fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
	}
	return strings.TrimSpace(b.String())
}

// sparkLabel describes the sparkline for screen readers.
func sparkLabel(h []*float64, step float64) string {
	lo, hi, n := math.Inf(1), math.Inf(-1), 0
	for _, v := range h {
		if v != nil {
			lo, hi, n = min(lo, *v), max(hi, *v), n+1
		}
	}
	if n == 0 {
		return "no latency history"
	}
	span := time.Duration(float64(len(h)) * step * float64(time.Second)).Round(time.Second)
	return fmt.Sprintf("latency over the last %s: %.0f to %.0f ms", span, lo, hi)
}

// evidenceLabel prints one piece of evidence: "cpu_temperature 93.5 °C ≥ 90".
func evidenceLabel(e audit.Evidence) string {
	op := "<"
	if e.Firing {
		op = "≥"
	}
	f := func(n audit.Number) string {
		v := float64(n)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return "?"
		}
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	return fmt.Sprintf("%s %s %s %s %s", e.Signal, f(e.Value), e.Unit, op, f(e.Threshold))
}
