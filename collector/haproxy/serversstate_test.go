package haproxy

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

// stateHeader is the header line of HAProxy 2.6's `show servers state`.
const stateHeader = "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n"

func TestParseServersState(t *testing.T) {
	t.Parallel()
	// HAProxy 2.6: s1 (weight 10) at 50 %, s2 drained.
	capture, err := os.ReadFile("testdata/show_servers_state_2.6.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseServersState(capture)
	if err != nil {
		t.Fatal(err)
	}
	want := []ServerState{
		{Backend: "api", Server: "s1", OpState: 2, AdminState: 0, Weight: 5, InitialWeight: 10},
		{Backend: "api", Server: "s2", OpState: 2, AdminState: 8, Weight: 1, InitialWeight: 1},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got[0].Status() != StatusReady || got[0].WeightPct() != 50 {
		t.Errorf("s1: %s %d%%, want ready 50%%", got[0].Status(), got[0].WeightPct())
	}
	if got[1].Status() != StatusDrain || got[1].WeightPct() != 100 {
		t.Errorf("s2: %s %d%%, want drain 100%%", got[1].Status(), got[1].WeightPct())
	}

	// HAProxy 2.6.12 after `set server api/s2 state drain` and `set server
	// api/s2 weight 50%` (initial weight 3), with the trailing empty line.
	reply := "1\n" + stateHeader +
		"3 api 1 s1 127.0.0.1 0 0 1 1 1 8 2 0 6 0 0 0 - 18081 - 0 0 - - 0\n" +
		"3 api 2 s2 127.0.0.1 0 8 1 3 0 8 2 0 6 0 0 0 - 18082 - 0 0 - - 0\n\n"
	got, err = ParseServersState([]byte(reply))
	if err != nil {
		t.Fatal(err)
	}
	want = []ServerState{
		{Backend: "api", Server: "s1", OpState: 0, AdminState: 0, Weight: 1, InitialWeight: 1},
		{Backend: "api", Server: "s2", OpState: 0, AdminState: 8, Weight: 1, InitialWeight: 3},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}

	// A later version's extra column is ignored; columns are found by name.
	extra := "1\n# be_name srv_name srv_op_state srv_admin_state srv_iweight srv_uweight srv_new\napi s1 2 0 10 7 x\n"
	got, err = ParseServersState([]byte(extra))
	if err != nil || len(got) != 1 || got[0] != (ServerState{Backend: "api", Server: "s1", OpState: 2, Weight: 7, InitialWeight: 10}) {
		t.Errorf("reordered header: %+v, %v", got, err)
	}

	bad := map[string]string{
		"empty":        "",
		"version":      "2\n" + stateHeader,
		"refused":      "Permission denied\n\n",
		"no header":    "1\n3 api 1 s1\n",
		"short header": "1\n# be_name srv_name\n",
		"short line":   "1\n" + stateHeader + "3 api 1 s1 127.0.0.1 0 0\n",
		"long line":    "1\n" + stateHeader + "3 api 1 s1 127.0.0.1 0 0 1 1 1 8 2 0 6 0 0 0 - 18081 - 0 0 - - 0 9\n",
		"not a number": "1\n" + stateHeader + "3 api 1 s1 127.0.0.1 0 x 1 1 1 8 2 0 6 0 0 0 - 18081 - 0 0 - - 0\n",
	}
	for name, r := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := ParseServersState([]byte(r))
			if !errors.Is(err, ErrMalformed) || !strings.HasPrefix(err.Error(), "haproxy: parse servers state: ") {
				t.Errorf("error %v, want a prefixed ErrMalformed", err)
			}
		})
	}
}

func TestServerStateStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		admin int
		want  string
	}{
		{0, StatusReady},
		{0x01, StatusMaint}, // forced
		{0x02, StatusMaint}, // inherited from a tracked server
		{0x04, StatusMaint}, // "disabled" in the configuration
		{0x20, StatusMaint}, // resolver
		{0x08, StatusDrain}, // forced
		{0x10, StatusDrain}, // inherited
		{0x09, StatusMaint}, // maintenance wins over drain
		{0x40, StatusReady}, // SRV_ADMF_HMAINT: the FQDN was set through the socket, no maintenance
	}
	for _, tc := range tests {
		if got := (ServerState{AdminState: tc.admin}).Status(); got != tc.want {
			t.Errorf("admin state %#x: %s, want %s", tc.admin, got, tc.want)
		}
	}
}

func TestServerStateWeightPct(t *testing.T) {
	t.Parallel()
	tests := []struct{ weight, initial, want int }{
		{100, 100, 100},
		{50, 100, 50},
		{5, 10, 50},
		{1, 3, 33}, // rounds down from 33.3
		{2, 3, 67}, // rounds up from 66.7
		{1, 2, 50},
		{0, 7, 0}, // drained by weight
		{256, 1, 25600},
		{0, 0, 100}, // configured at weight 0
	}
	for _, tc := range tests {
		if got := (ServerState{Weight: tc.weight, InitialWeight: tc.initial}).WeightPct(); got != tc.want {
			t.Errorf("weight %d of %d: %d%%, want %d%%", tc.weight, tc.initial, got, tc.want)
		}
	}
}

func TestShowServersState(t *testing.T) {
	t.Parallel()
	capture, err := os.ReadFile("testdata/show_servers_state_2.6.txt")
	if err != nil {
		t.Fatal(err)
	}
	f, addr := startFake(t, "unix", map[string]string{"show servers state": string(capture) + "\n"}, false)
	got, err := newClient(t, addr, 0).ShowServersState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Server != "s1" || got[1].Status() != StatusDrain {
		t.Errorf("got %+v", got)
	}
	if cmds := f.commands(); len(cmds) != 1 || cmds[0] != "show servers state" {
		t.Errorf("commands sent = %q, want [show servers state]", cmds)
	}

	_, addr = startFake(t, "unix", map[string]string{"show servers state": "Permission denied\n\n"}, false)
	_, err = newClient(t, addr, 0).ShowServersState(context.Background())
	want := "haproxy: lb1 (" + addr + "): show servers state: line 1: format version"
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "Permission denied") {
		t.Errorf("error %v, want prefix %q and the answer", err, want)
	}
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("error %v does not match ErrMalformed", err)
	}
}
