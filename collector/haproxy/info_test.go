package haproxy

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// infoReply is the start of HAProxy 2.6.12's `show info`, which goes on
// for some sixty lines.
const infoReply = "Name: HAProxy\nVersion: 2.6.12-1+deb12u4\nRelease_date: 2023/12/12\nNbthread: 2\nProcess_num: 1\nPid: 23329\nUptime: 0d 0h00m01s\nUptime_sec: 1\nMemmax_MB: 0\nStart_time_sec: 1795700047\nnode: vm\n\n"

func TestParseInfo(t *testing.T) {
	t.Parallel()
	info, err := ParseInfo([]byte(infoReply))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Info{Version: "2.6.12-1+deb12u4", Pid: 23329, UptimeSec: 1, StartTimeSec: 1795700047}); info != want {
		t.Errorf("got %+v, want %+v", info, want)
	}
	// Before HAProxy 2.4 there is no Start_time_sec.
	info, err = ParseInfo([]byte("Pid: 7\nUptime_sec: 30\n"))
	if err != nil || info != (Info{Pid: 7, UptimeSec: 30}) {
		t.Errorf("without a start time: %+v, %v", info, err)
	}
	bad := map[string]string{
		"empty":             "",
		"refused":           "Permission denied\n\n",
		"pid not a number":  "Pid: x\n",
		"uptime not number": "Pid: 1\nUptime_sec: -\n",
		"start not number":  "Pid: 1\nStart_time_sec: 1e9\n",
	}
	for name, r := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := ParseInfo([]byte(r))
			if !errors.Is(err, ErrMalformed) || !strings.HasPrefix(err.Error(), "haproxy: parse info: ") {
				t.Errorf("ParseInfo(%q): error %v, want a prefixed ErrMalformed", r, err)
			}
		})
	}
}

func TestShowInfo(t *testing.T) {
	t.Parallel()
	f, addr := startFake(t, "unix", map[string]string{"show info": infoReply}, false)
	info, err := newClient(t, addr, 0).ShowInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Pid != 23329 || info.StartTimeSec != 1795700047 {
		t.Errorf("got %+v", info)
	}
	if got := f.commands(); len(got) != 1 || got[0] != "show info" {
		t.Errorf("commands sent = %q, want [show info]", got)
	}

	_, addr = startFake(t, "unix", map[string]string{"show info": "Permission denied\n\n"}, false)
	_, err = newClient(t, addr, 0).ShowInfo(context.Background())
	want := "haproxy: lb1 (" + addr + "): show info: no Pid line"
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "Permission denied") {
		t.Errorf("error %v, want prefix %q and the answer", err, want)
	}
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("error %v does not match ErrMalformed", err)
	}
}

func TestRestartDetector(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		infos []Info
		want  []bool
	}{
		{"same process", []Info{{Pid: 7, UptimeSec: 10, StartTimeSec: 1000}, {Pid: 7, UptimeSec: 40, StartTimeSec: 1000}}, []bool{false, false}},
		{"new pid", []Info{{Pid: 7, StartTimeSec: 1000}, {Pid: 8, StartTimeSec: 1000}}, []bool{false, true}},
		{"same pid, new start (container)", []Info{{Pid: 1, StartTimeSec: 1000}, {Pid: 1, StartTimeSec: 1090}}, []bool{false, true}},
		{"no start time, uptime back", []Info{{Pid: 1, UptimeSec: 500}, {Pid: 1, UptimeSec: 3}}, []bool{false, true}},
		{"no start time, uptime on", []Info{{Pid: 1, UptimeSec: 500}, {Pid: 1, UptimeSec: 530}}, []bool{false, false}},
		{"reported once", []Info{{Pid: 1}, {Pid: 2}, {Pid: 2}}, []bool{false, true, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var d RestartDetector
			for i, info := range tc.infos {
				if got := d.Restarted("lb1", info); got != tc.want[i] {
					t.Errorf("info %d: restarted %v, want %v", i, got, tc.want[i])
				}
			}
			if d.Restarted("lb2", Info{Pid: 99}) {
				t.Error("another load balancer's first info is a restart")
			}
		})
	}
}
