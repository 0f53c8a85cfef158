package haproxy

import (
	"os"
	"testing"
)

func TestParseServersState(t *testing.T) {
	b, err := os.ReadFile("testdata/show_servers_state_2.6.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseServersState(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []ServerState{
		{Backend: "api", Server: "s1", OpState: 2, AdminState: 0, UWeight: 5, IWeight: 10},
		{Backend: "api", Server: "s2", OpState: 2, AdminState: 8, UWeight: 1, IWeight: 1},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if got[0].WeightPct() != 50 || got[1].WeightPct() != 100 {
		t.Errorf("weight percentages %d, %d", got[0].WeightPct(), got[1].WeightPct())
	}
	for _, bad := range []string{"", "1\n", "1\n# be_name srv_name\n", "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight\n2 api 1 s1 x two 0 1 1\n"} {
		if _, err := parseServersState([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
