package demo

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/deploy/testrig"
)

// The load test of `make bench-loop`: users' traffic through a real HAProxy
// over the nine emulated API nodes ramps from rampFrom requests per second
// to the machine's saturation point, and one node's fans fail half-way.
// The same ramp runs twice in one run: with rackwatch, then with HAProxy
// alone and its HTTP health checks.
const (
	rampFrom   = 100
	rampLength = 60 * time.Second
	// calibrateStep is how long each rate of the saturation search holds.
	calibrateStep = 3 * time.Second
	// saturated: the rate at which the machine no longer keeps up, by any
	// of these: less than 90 % of the offered requests answered, a p99
	// above satP99, or more than 1 % errors.
	satP99 = 200 * time.Millisecond
)

// loopRun is what one side of the comparison saw.
type loopRun struct {
	name     string
	windows  []window // one per second of the ramp
	heatAt   int      // index of the window heat starts in
	shedWait time.Duration
	shed     bool
}

func BenchmarkLoop(b *testing.B) {
	testrig.Require(b, "haproxy", "haproxy")
	sat := saturation(b)
	b.Logf("saturation: %d requests/s", sat)
	with := rampRun(b, "rackwatch", false, sat)
	without := rampRun(b, "HAProxy alone", true, sat)

	after := func(r loopRun) *window { return allWindows(r.windows[r.heatAt:]) }
	errRate := func(w *window) float64 {
		return 100 * float64(w.Errors) / math.Max(1, float64(w.Errors+len(w.Latencies)))
	}
	aw, ao := after(with), after(without)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(sat), "saturation-req/s")
	b.ReportMetric(ms(aw.Percentile(99)), "with-p99-ms")
	b.ReportMetric(ms(ao.Percentile(99)), "without-p99-ms")
	b.ReportMetric(errRate(aw), "with-err-%")
	b.ReportMetric(errRate(ao), "without-err-%")
	if with.shed {
		b.ReportMetric(with.shedWait.Seconds(), "heat-to-shed-s")
	} else {
		b.Errorf("rackwatch never shed or drained the hot node")
	}
	table := loopTable(with, without, sat)
	b.Logf("after the heat: p99 %s with rackwatch, %s without (%.2f×); errors %.2f %% and %.2f %%\n%s",
		aw.Percentile(99).Round(time.Millisecond), ao.Percentile(99).Round(time.Millisecond),
		ms(aw.Percentile(99))/math.Max(ms(ao.Percentile(99)), 1e-9), errRate(aw), errRate(ao), table)
	if dir := os.Getenv("RACKWATCH_BENCH_OUT"); dir != "" {
		path := filepath.Join(dir, "bench-loop.svg")
		if err := os.WriteFile(path, []byte(loopSVG(with, without)), 0o644); err != nil {
			b.Fatal(err)
		}
		b.Logf("wrote %s", path)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func benchOpts(b *testing.B) Opts {
	b.Helper()
	return Opts{Listen: freeBenchAddr(b), MQTTListen: freeBenchAddr(b), Out: io.Discard}
}

func freeBenchAddr(b *testing.B) string {
	b.Helper()
	a, err := freeUDP() // a loopback port; TCP and UDP ports are separate, so check TCP
	if err != nil {
		b.Fatal(err)
	}
	if err := checkPort("bench", a, ""); err != nil {
		return freeBenchAddr(b)
	}
	return a
}

// saturation raises the rate through HAProxy alone, by half each step,
// until the machine no longer keeps up, and returns the last rate it did.
func saturation(b *testing.B) int {
	w, stop, err := setUp(benchOpts(b), true, rampFrom)
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	good := rampFrom
	for rate := rampFrom; rate <= 50000; rate = rate * 3 / 2 {
		w.load.SetRate(rate)
		time.Sleep(time.Second) // let the queue settle at the new rate
		n := len(w.load.Windows())
		time.Sleep(calibrateStep)
		ws := w.load.Windows()[n:]
		win := allWindows(ws)
		answered := float64(len(win.Latencies)) / float64(max(len(ws), 1)) // one window a second
		total := len(win.Latencies) + win.Errors + win.Shed
		b.Logf("calibration: offered %d/s, answered %.0f/s, p99 %s, %d errors, %d not sent", rate, answered,
			win.Percentile(99).Round(time.Millisecond), win.Errors, win.Shed)
		if answered < 0.9*float64(rate) || win.Percentile(99) > satP99 || float64(win.Errors+win.Shed) > 0.01*float64(total) {
			return good
		}
		good = rate
	}
	return good
}

// rampRun runs the ramp on one side and returns what the users saw.
func rampRun(b *testing.B, name string, lbOnly bool, sat int) loopRun {
	w, stop, err := setUp(benchOpts(b), lbOnly, rampFrom)
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	ctx := context.Background()
	if !lbOnly {
		w.waitOnline(ctx)
	}
	time.Sleep(warmup) // a latency baseline at the ramp's first rate
	r := loopRun{name: name}
	first := len(w.load.Windows())
	steps := int(rampLength / time.Second)
	var heat time.Time
	for i := range steps {
		w.load.SetRate(rampFrom + (sat-rampFrom)*i/(steps-1))
		if i == steps/2 {
			heat = time.Now()
			r.heatAt = i
			if err := w.heat("r2n2", true); err != nil {
				b.Fatal(err)
			}
		}
		time.Sleep(time.Second)
	}
	time.Sleep(time.Second) // close the last window
	r.windows = w.load.Windows()[first:]
	if len(r.windows) > steps {
		r.windows = r.windows[:steps]
	}
	for _, d := range w.narr.decisionsOf("r2n2") {
		if (d.action == "shed" || d.action == "drain") && d.at.After(heat) {
			r.shed, r.shedWait = true, d.at.Sub(heat)
			break
		}
	}
	return r
}

// loopTable is the comparison every five seconds of the ramp.
func loopTable(with, without loopRun, sat int) string {
	var t strings.Builder
	fmt.Fprintf(&t, "| t (s) | offered req/s | rackwatch p50 | p99 | errors | HAProxy alone p50 | p99 | errors |\n")
	fmt.Fprintf(&t, "|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	n := min(len(with.windows), len(without.windows))
	for i := 0; i < n; i += 5 {
		mark := ""
		if i <= with.heatAt && with.heatAt < i+5 {
			mark = " (heat)"
		}
		wa, wo := allWindows(with.windows[i:min(i+5, n)]), allWindows(without.windows[i:min(i+5, n)])
		fmt.Fprintf(&t, "| %d%s | %d | %s | %s | %s | %s | %s | %s |\n", i, mark, rampFrom+(sat-rampFrom)*i/(n-1),
			fmtMs(wa.Percentile(50)), fmtMs(wa.Percentile(99)), fmtErr(wa), fmtMs(wo.Percentile(50)), fmtMs(wo.Percentile(99)), fmtErr(wo))
	}
	return t.String()
}

func fmtMs(d time.Duration) string { return fmt.Sprintf("%.1f ms", ms(d)) }

func fmtErr(w *window) string {
	n := w.Errors + len(w.Latencies)
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f %%", 100*float64(w.Errors)/float64(n))
}

// loopSVG plots p99 per second for both sides on a log scale, with the
// offered rate, the heat onset and the shed.
func loopSVG(with, without loopRun) string {
	const W, H, left, right, top, bottom = 760, 360, 60, 20, 30, 50
	n := min(len(with.windows), len(without.windows))
	maxMs := 1.0
	for _, r := range []loopRun{with, without} {
		for _, w := range r.windows[:n] {
			maxMs = math.Max(maxMs, ms(w.Percentile(99)))
		}
	}
	top10 := math.Pow(10, math.Ceil(math.Log10(maxMs)))
	x := func(i int) float64 { return left + float64(i)*(W-left-right)/float64(max(n-1, 1)) }
	y := func(v float64) float64 {
		v = math.Max(v, 1)
		return top + (H-top-bottom)*(1-math.Log10(v)/math.Log10(top10))
	}
	var s strings.Builder
	fmt.Fprintf(&s, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", W, H)
	fmt.Fprintf(&s, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	fmt.Fprintf(&s, `<text x="%d" y="18" font-size="14">p99 latency per second during the ramp; r2n2's fans fail half-way</text>`+"\n", left)
	for v := 1.0; v <= top10; v *= 10 {
		fmt.Fprintf(&s, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%g ms</text>`+"\n",
			left, W-right, y(v), y(v), left-6, y(v)+4, v)
	}
	for i := 0; i < n; i += 10 {
		fmt.Fprintf(&s, `<text x="%.1f" y="%d" text-anchor="middle">%d s</text>`+"\n", x(i), H-bottom+18, i)
	}
	hx := x(with.heatAt)
	fmt.Fprintf(&s, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#c00" stroke-dasharray="4 3"/><text x="%.1f" y="%d" fill="#c00">heat</text>`+"\n",
		hx, hx, top, H-bottom, hx+4, top+12)
	if with.shed {
		sx := x(with.heatAt) + with.shedWait.Seconds()*(W-left-right)/float64(max(n-1, 1))
		fmt.Fprintf(&s, `<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#06c" stroke-dasharray="2 2"/><text x="%.1f" y="%d" fill="#06c">shed</text>`+"\n",
			sx, sx, top, H-bottom, sx+4, top+26)
	}
	for _, series := range []struct {
		r     loopRun
		color string
	}{{without, "#e67e22"}, {with, "#06c"}} {
		var pts []string
		for i, w := range series.r.windows[:n] {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(ms(w.Percentile(99)))))
		}
		fmt.Fprintf(&s, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", series.color, strings.Join(pts, " "))
	}
	fmt.Fprintf(&s, `<text x="%d" y="%d" fill="#06c">— with rackwatch</text><text x="%d" y="%d" fill="#e67e22">— HAProxy alone (health checks)</text>`+"\n",
		left, H-12, left+160, H-12)
	fmt.Fprintf(&s, `<text x="%d" y="%d" text-anchor="end">offered load ramps from %d req/s to saturation</text>`+"\n", W-right, H-12, rampFrom)
	s.WriteString("</svg>\n")
	return s.String()
}
