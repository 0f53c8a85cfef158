package demo

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/rackwatch/rackwatch/deploy/testrig"
)

// browser is a headless Chromium driven over the DevTools protocol, with
// the page's script errors and console errors (CSP violations among them)
// collected.
type browser struct {
	ctx context.Context

	mu     sync.Mutex
	errors []string
}

func (b *browser) problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// startBrowser starts Debian's Chromium with the flags these closed-network
// machines need (no sandbox as root, nothing reaching the internet) and a
// fresh profile. The cleanup stops it.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	bin := testrig.Require(t, "chromium", "chromium")
	var out testrig.Buffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 960),
		chromedp.CombinedOutput(&out),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf), chromedp.WithListener(func(ev any) {
		var problem string
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			problem = fmt.Sprintf("exception: %s at %s:%d:%d", d.Text, d.URL, d.LineNumber+1, d.ColumnNumber+1)
			if d.Exception != nil {
				problem += ": " + d.Exception.Description
			}
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				problem = "console.error"
				for _, a := range ev.Args {
					problem += " " + string(a.Value)
				}
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				problem = fmt.Sprintf("%s: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
			}
		}
		if problem != "" {
			b.mu.Lock()
			b.errors = append(b.errors, problem)
			b.mu.Unlock()
		}
	}))
	// The first action starts the browser, which lives as long as ctx.
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("starting %s: %v\n%s", bin, err, out.String())
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	b.ctx = ctx
	return b
}

// eval evaluates a JavaScript expression in the page, within 5 s.
func eval[T any](t *testing.T, b *browser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// artifacts is where the test leaves files for people to look at:
// $RACKWATCH_ARTIFACTS, or the test's temporary directory.
func artifacts(t *testing.T) string {
	dir := os.Getenv("RACKWATCH_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
