package haproxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Info is the answer to `show info`: "Name: value" lines by name.
type Info map[string]string

// ShowInfo returns the process information. Its Pid and Uptime_sec tell a
// caller when HAProxy restarted or reloaded and so lost runtime changes.
func (c *Client) ShowInfo(ctx context.Context) (Info, error) {
	const op = "show info"
	reply, err := c.do(ctx, op)
	if err != nil {
		return nil, c.errorf(op, err)
	}
	info := Info{}
	sc := bufio.NewScanner(bytes.NewReader(reply))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ": ")
		if ok {
			info[k] = v
		}
	}
	if info["Pid"] == "" {
		return nil, malformed(c.errorf(op, fmt.Errorf("no Pid in %q", firstLine(reply))))
	}
	return info, nil
}

// Started identifies the running process by its pid and start time, which
// change on every reload or restart.
func (i Info) Started() string { return i["Pid"] + "/" + i["Start_time_sec"] }

// ServerState is one server of `show servers state`: its administrative
// and operational state and its user (current) and initial weights, which
// `show stat` lacks.
type ServerState struct {
	Backend, Server string
	// OpState: 0 stopped, 1 starting, 2 running, 3 stopping.
	OpState int
	// AdminState is a bit field: 0x01 forced maintenance, 0x08 forced
	// drain (HAProxy's SRV_ADMF_*).
	AdminState int
	UWeight    int
	IWeight    int
}

// WeightPct is the current weight as a percentage of the initial one.
func (s ServerState) WeightPct() int {
	if s.IWeight == 0 {
		return 100
	}
	return (s.UWeight*100 + s.IWeight/2) / s.IWeight
}

// ShowServersState returns every server's state. The answer is a version
// line, then a header line starting with "# ", then one line per server
// with space-separated fields: parsed by the header.
func (c *Client) ShowServersState(ctx context.Context) ([]ServerState, error) {
	const op = "show servers state"
	reply, err := c.do(ctx, op)
	if err != nil {
		return nil, c.errorf(op, err)
	}
	st, err := parseServersState(reply)
	if err != nil {
		return nil, malformed(c.errorf(op, err))
	}
	return st, nil
}

func parseServersState(b []byte) ([]ServerState, error) {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[1], "# ") {
		return nil, fmt.Errorf("no header line in %q", firstLine(b))
	}
	col := map[string]int{}
	for i, name := range strings.Fields(strings.TrimPrefix(lines[1], "# ")) {
		col[name] = i
	}
	for _, need := range []string{"be_name", "srv_name", "srv_op_state", "srv_admin_state", "srv_uweight", "srv_iweight"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("header lacks %s", need)
		}
	}
	var out []ServerState
	for n, line := range lines[2:] {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(line, "#") {
			continue
		}
		if len(f) < len(col) {
			return nil, fmt.Errorf("line %d: %d fields, header has %d", n+3, len(f), len(col))
		}
		num := func(name string) (int, error) {
			v, err := strconv.Atoi(f[col[name]])
			if err != nil {
				return 0, fmt.Errorf("line %d: %s %q: %w", n+3, name, f[col[name]], err)
			}
			return v, nil
		}
		s := ServerState{Backend: f[col["be_name"]], Server: f[col["srv_name"]]}
		var err error
		for _, p := range []struct {
			name string
			dst  *int
		}{{"srv_op_state", &s.OpState}, {"srv_admin_state", &s.AdminState}, {"srv_uweight", &s.UWeight}, {"srv_iweight", &s.IWeight}} {
			if *p.dst, err = num(p.name); err != nil {
				return nil, err
			}
		}
		out = append(out, s)
	}
	return out, nil
}
