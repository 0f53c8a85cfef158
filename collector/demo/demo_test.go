package demo

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rackwatch/rackwatch/deploy/testrig"
)

// run plays one scenario to its end and returns the summary and the
// narration. during, if set, runs while the demo does, with the address
// of its status page.
func run(t *testing.T, name string, noHAProxy bool, during func(listen string)) (Summary, string) {
	t.Helper()
	sc, err := lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	var out testrig.Buffer
	opts := Opts{Scenario: name, For: warmup + sc.length + 5*time.Second,
		Listen: testrig.FreeAddr(t), MQTTListen: testrig.FreeAddr(t), NoHAProxy: noHAProxy, Out: &out}
	type result struct {
		s   Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := Run(context.Background(), opts)
		done <- result{s, err}
	}()
	if during != nil {
		during(opts.Listen)
	}
	r := <-done
	t.Logf("narration:\n%s", out.String())
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.s, out.String()
}

// The scenarios, each with what the collector must do and must not.
func TestScenarios(t *testing.T) {
	testrig.SkipUnderRace(t)
	testrig.Require(t, "haproxy", "haproxy")
	for _, tc := range []struct {
		name      string
		noHAProxy bool
		want      Summary // nodes shed, drained and restored; alarms raised
		page      bool    // watch the status page in Chromium
	}{
		{"hot-node", true, Summary{Shed: []string{"r2n2"}, Drained: []string{"r2n2"}, Restored: []string{"r2n2"}}, true},
		{"crc-storm", false, Summary{Shed: []string{"r1n3"}, Drained: []string{"r1n3"}, Restored: []string{"r1n3"},
			Alarms: []string{"link_errors_degrading on r1n3"}}, false},
		{"cooling-failure", true, Summary{Alarms: []string{"rack_cooling on r3"}}, false},
		// Drained once: the restarted collector keeps the drain rather
		// than restoring and draining again.
		{"recovery", false, Summary{Shed: []string{"r2n2"}, Drained: []string{"r2n2"}, Restored: []string{"r2n2"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var page func(string)
			if tc.page {
				page = func(listen string) { watchHotNode(t, listen) }
			}
			s, out := run(t, tc.name, tc.noHAProxy, page)
			for _, c := range []struct {
				what      string
				got, want []string
			}{
				{"shed", s.Shed, tc.want.Shed},
				{"drained", s.Drained, tc.want.Drained},
				{"restored", s.Restored, tc.want.Restored},
				{"alarms", s.Alarms, tc.want.Alarms},
			} {
				if !slices.Equal(c.got, c.want) {
					t.Errorf("%s %v, want %v", c.what, c.got, c.want)
				}
			}
			if s.Errors > s.Requests/100 {
				t.Errorf("%d of %d requests failed", s.Errors, s.Requests)
			}
			if !strings.Contains(out, "Summary of") {
				t.Error("no summary printed")
			}
		})
	}
}

func TestUnknownScenarioListsTheValidOnes(t *testing.T) {
	_, err := Run(context.Background(), Opts{Scenario: "meltdown"})
	if err == nil {
		t.Fatal("Run accepted an unknown scenario")
	}
	for _, name := range Scenarios() {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not list %q", err, name)
		}
	}
}

func TestPortInUseSuggestsTheFlag(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().String()
	for _, tc := range []struct {
		opts Opts
		flag string
	}{
		{Opts{Listen: busy, MQTTListen: testrig.FreeAddr(t)}, "--listen"},
		{Opts{Listen: testrig.FreeAddr(t), MQTTListen: busy}, "--mqtt-listen"},
	} {
		_, err := Run(context.Background(), tc.opts)
		if err == nil || !strings.Contains(err.Error(), busy+" is already in use") || !strings.Contains(err.Error(), tc.flag) {
			t.Errorf("Run with %s busy: %v; want it to name the address and %s", tc.flag, err, tc.flag)
		}
	}
}

// watchHotNode opens the status page in headless Chromium while the
// hot-node scenario plays, and waits until the page, updated live over its
// event stream and never reloaded, says in words that r2n2 was shed or
// drained; then it saves a screenshot.
func watchHotNode(t *testing.T, listen string) {
	b := startBrowser(t)
	url := "http://" + listen + "/"
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if c, err := net.Dial("tcp", listen); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the status page at %s never came up", url)
		}
	}
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	err := chromedp.Do(ctx, chromedp.Navigate(url))
	cancel()
	if err != nil {
		t.Fatalf("opening %s: %v", url, err)
	}
	stateOf := func(node string) string {
		return eval[string](t, b, fmt.Sprintf(`(document.querySelector('#nodes tr[data-node=%q] .state') || {}).textContent || ""`, node))
	}
	waitFor := func(what string, timeout time.Duration, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(timeout); !cond(); time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the page never showed %s; problems: %q\npage text:\n%s", what, b.problems(),
					eval[string](t, b, `document.body.innerText`))
			}
		}
	}
	waitFor("the event stream live", 15*time.Second, func() bool {
		return eval[string](t, b, `document.getElementById("conn").dataset.conn`) == "live"
	})
	var shown string
	waitFor(`r2n2 "shed" or "drained"`, 60*time.Second, func() bool {
		shown = stateOf("r2n2")
		return shown == "shed" || shown == "drained"
	})
	t.Logf("the page shows r2n2 %q", shown)
	if cell := eval[string](t, b, `(document.querySelector('#racks li[data-node="r2n2"]') || {}).textContent || ""`); !strings.Contains(cell, "shed") && !strings.Contains(cell, "drained") {
		t.Errorf("the heatmap cell of r2n2 reads %q", cell)
	}
	log := eval[string](t, b, `document.getElementById("decisions").innerText`)
	if !strings.Contains(log, "r2n2") || !strings.Contains(log, "cpu_temperature") || !strings.Contains(log, "(firing)") {
		t.Errorf("the decision log lacks r2n2's decision with its evidence:\n%s", log)
	}
	for _, n := range []string{"r2n1", "r2n3"} {
		if got := stateOf(n); got != "ok" {
			t.Errorf("%s shows %q, want ok", n, got)
		}
	}
	if p := b.problems(); len(p) > 0 {
		t.Errorf("the page logged errors: %q", p)
	}
	ctx, cancel = context.WithTimeout(b.ctx, 10*time.Second)
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	cancel()
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(artifacts(t), "statuspage-hot-node.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
}
