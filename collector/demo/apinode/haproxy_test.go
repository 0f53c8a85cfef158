package apinode

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/deploy/testrig"
)

// serverStatus returns svname → status from HAProxy's "show stat", read by
// its header row.
func serverStatus(t *testing.T, h *testrig.HAProxy) map[string]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(h.Command(t, "show stat"), "# "))).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("show stat: %v", err)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	out := map[string]string{}
	for _, r := range rows[1:] {
		if len(r) > col["status"] && r[col["pxname"]] == h.Backend {
			out[r[col["svname"]]] = r[col["status"]]
		}
	}
	return out
}

// Behind a real HAProxy with HTTP checks of /health, a throttled node
// serves slower than its healthy peer, and an unhealthy one is taken out.
func TestBehindHAProxy(t *testing.T) {
	t.Parallel()
	clk := testrig.NewClock(t0)
	hot := startNode(t, Opts{Name: "hot", Now: clk.Now})
	cool := startNode(t, Opts{Name: "cool", Now: clk.Now})
	h := testrig.StartHAProxy(t, testrig.HAProxyOpts{
		Servers:       []testrig.HAProxyServer{{Name: "hot", Addr: hot.Addr()}, {Name: "cool", Addr: cool.Addr()}},
		BackendConfig: "\toption httpchk GET /health",
		ServerOptions: "rise 1 fall 1",
	})
	waitStatus := func(want map[string]string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			got := serverStatus(t, h)
			ok := true
			for k, v := range want {
				ok = ok && got[k] == v
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("servers %v, want %v", got, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitStatus(map[string]string{"hot": "UP", "cool": "UP"})

	m := hot.Model()
	m.SetBackgroundLoad(clk.Now(), 1)
	m.SetHeat(clk.Now(), 400)
	clk.Add(time.Minute)
	service := map[string]string{}
	for range 10 {
		r, err := http.Get("http://" + h.FrontendAddr + "/api")
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		service[r.Header.Get("X-Node")] = r.Header.Get("X-Service-Time")
	}
	if service["hot"] != "0.010000" || service["cool"] != "0.005000" {
		t.Errorf("service times through HAProxy %v, want hot 0.010000 and cool 0.005000", service)
	}

	hot.SetHealthy(false)
	waitStatus(map[string]string{"hot": "DOWN", "cool": "UP"})
}
