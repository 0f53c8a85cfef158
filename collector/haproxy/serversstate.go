package haproxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ServerState is one server's line of `show servers state`: its
// administrative and operational state and its current and initial
// weights, which `show stat` lacks.
type ServerState struct {
	Backend, Server string
	// OpState is srv_op_state: 0 stopped, 1 starting, 2 running,
	// 3 stopping (enum srv_state in HAProxy's server-t.h).
	OpState int
	// AdminState is srv_admin_state, a bit field (enum srv_admin).
	AdminState    int
	Weight        int // srv_uweight, the weight in force
	InitialWeight int // srv_iweight, the configured weight
}

// Administrative statuses, as ServerState.Status reports them.
const (
	StatusReady = "ready"
	StatusDrain = "drain"
	StatusMaint = "maint"
)

// Administrative flags of srv_admin_state (enum srv_admin in HAProxy
// 2.6's include/haproxy/server-t.h).
const (
	admForcedMaint    = 0x01 // SRV_ADMF_FMAINT
	admInheritedMaint = 0x02 // SRV_ADMF_IMAINT
	admConfigMaint    = 0x04 // SRV_ADMF_CMAINT: "disabled" in the configuration
	admDrain          = 0x18 // SRV_ADMF_FDRAIN | SRV_ADMF_IDRAIN
	admResolverMaint  = 0x20 // SRV_ADMF_RMAINT
)

// Status returns the administrative state: StatusMaint, StatusDrain or
// StatusReady. Maintenance wins over drain, as in HAProxy, where a server
// in maintenance takes no traffic at all.
func (s ServerState) Status() string {
	switch {
	case s.AdminState&(admForcedMaint|admInheritedMaint|admConfigMaint|admResolverMaint) != 0:
		return StatusMaint
	case s.AdminState&admDrain != 0:
		return StatusDrain
	}
	return StatusReady
}

// WeightPct is the current weight as a percentage of the initial one,
// rounded to the nearest. A server configured with weight 0 is at 100 %
// of it.
func (s ServerState) WeightPct() int {
	if s.InitialWeight <= 0 {
		return 100
	}
	return (s.Weight*100 + s.InitialWeight/2) / s.InitialWeight
}

// ShowServersState runs `show servers state`.
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

// ParseServersState reads `show servers state` (format version 1): a
// version line, a "# name name ..." header, then one line per server with
// space-separated fields. Fields are found by header name, since versions
// append columns.
func ParseServersState(reply []byte) ([]ServerState, error) {
	st, err := parseServersState(reply)
	if err != nil {
		return nil, malformed(fmt.Errorf("haproxy: parse servers state: %w", err))
	}
	return st, nil
}

// serversStateCols are the columns ParseServersState reads, in the order
// of the fields they fill.
var serversStateCols = []string{"be_name", "srv_name", "srv_op_state", "srv_admin_state", "srv_uweight", "srv_iweight"}

// parseServersState is ParseServersState with errors that name only the
// line and column, for callers that add their own context.
func parseServersState(reply []byte) ([]ServerState, error) {
	sc := bufio.NewScanner(bytes.NewReader(reply))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	if !sc.Scan() {
		return nil, errors.New("empty answer")
	}
	if v := strings.TrimSpace(sc.Text()); v != "1" {
		return nil, fmt.Errorf("line 1: format version %.40q, want 1", v)
	}
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "# ") {
		return nil, errors.New("line 2: no header line")
	}
	head := strings.Fields(strings.TrimPrefix(sc.Text(), "# "))
	idx := make(map[string]int, len(head))
	for i, name := range head {
		if _, dup := idx[name]; !dup {
			idx[name] = i
		}
	}
	pos := make([]int, len(serversStateCols))
	for i, c := range serversStateCols {
		p, ok := idx[c]
		if !ok {
			return nil, fmt.Errorf("line 2: header has no %s column", c)
		}
		pos[i] = p
	}
	var out []ServerState
	for line := 3; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		f := strings.Fields(text)
		if len(f) != len(head) {
			return nil, fmt.Errorf("line %d: %d fields, header has %d", line, len(f), len(head))
		}
		s := ServerState{Backend: f[pos[0]], Server: f[pos[1]]}
		for i, dst := range []*int{&s.OpState, &s.AdminState, &s.Weight, &s.InitialWeight} {
			v, err := strconv.Atoi(f[pos[i+2]])
			if err != nil {
				return nil, fmt.Errorf("line %d: %s: %w", line, serversStateCols[i+2], err)
			}
			*dst = v
		}
		out = append(out, s)
	}
	return out, sc.Err()
}
