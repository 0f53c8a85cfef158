package testrig_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/deploy/testrig"
)

// A reload re-creates a removed stats socket, drops runtime changes, and
// refuses no client request on the way.
func TestHAProxyReload(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer backend.Close()
	h := testrig.StartHAProxy(t, testrig.HAProxyOpts{ServerOptions: "weight 100",
		Servers: []testrig.HAProxyServer{{Name: "s1", Addr: backend.Listener.Addr().String()}}})
	pid := func() string {
		for _, l := range strings.Split(h.Command(t, "show info"), "\n") {
			if strings.HasPrefix(l, "Pid: ") {
				return l
			}
		}
		t.Fatal("show info has no Pid")
		return ""
	}
	before := pid()
	h.Command(t, "set server api/s1 weight 50%")
	if got := h.Command(t, "get weight api/s1"); !strings.HasPrefix(got, "50 ") {
		t.Fatalf("weight before the reload %q, want 50", got)
	}

	var failed, served atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := &http.Client{Timeout: 2 * time.Second}
		for ctx.Err() == nil {
			resp, err := c.Get("http://" + h.FrontendAddr + "/")
			if err != nil {
				failed.Add(1)
				continue
			}
			resp.Body.Close()
			served.Add(1)
		}
	}()
	time.Sleep(200 * time.Millisecond)
	if err := os.Remove(h.Socket); err != nil {
		t.Fatal(err)
	}
	h.Reload(t)
	time.Sleep(200 * time.Millisecond)
	cancel()
	wg.Wait()

	if after := pid(); after == before {
		t.Errorf("%s both before and after the reload", after)
	}
	if got := h.Command(t, "get weight api/s1"); !strings.HasPrefix(got, "100 ") {
		t.Errorf("weight after the reload %q, want the configured 100", got)
	}
	if failed.Load() > 0 || served.Load() == 0 {
		t.Errorf("%d requests failed and %d were served across the reload", failed.Load(), served.Load())
	}
}

func TestSnmpdRestart(t *testing.T) {
	a := testrig.StartSnmpd(t, testrig.SnmpdOpts{})
	a.Stop()
	if a.Running() {
		t.Fatal("running after Stop")
	}
	a.Restart(t)
	g := a.Client(t, "")
	if _, err := g.Get([]string{"1.3.6.1.2.1.1.1.0"}); err != nil || !a.Running() {
		t.Fatalf("after Restart: %v", err)
	}
}
