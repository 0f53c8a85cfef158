package haproxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Info is what `show info` says about the running process. Pid and the
// start time tell a caller when HAProxy restarted or reloaded and so lost
// every runtime change (RestartDetector).
type Info struct {
	Version   string
	Pid       int
	UptimeSec int64
	// StartTimeSec is the process start, in seconds since the epoch
	// ("Start_time_sec", printed since HAProxy 2.4); zero when absent.
	StartTimeSec int64
}

// ShowInfo runs `show info`.
func (c *Client) ShowInfo(ctx context.Context) (Info, error) {
	const op = "show info"
	reply, err := c.do(ctx, op)
	if err != nil {
		return Info{}, c.errorf(op, err)
	}
	info, err := parseInfo(reply)
	if err != nil {
		return Info{}, malformed(c.errorf(op, err))
	}
	return info, nil
}

// ParseInfo reads the "Name: value" lines of `show info` (management
// guide section 9.3, "show info"). A Pid line is required: without one the
// answer is a refusal ("Permission denied") rather than the information.
func ParseInfo(reply []byte) (Info, error) {
	info, err := parseInfo(reply)
	if err != nil {
		return Info{}, malformed(fmt.Errorf("haproxy: parse info: %w", err))
	}
	return info, nil
}

// parseInfo is ParseInfo with errors that name only the field, for
// callers that add their own context.
func parseInfo(reply []byte) (Info, error) {
	var info Info
	var havePid bool
	sc := bufio.NewScanner(bytes.NewReader(reply))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		var err error
		switch k {
		case "Version":
			info.Version = v
		case "Pid":
			info.Pid, err = strconv.Atoi(v)
			havePid = err == nil
		case "Uptime_sec":
			info.UptimeSec, err = strconv.ParseInt(v, 10, 64)
		case "Start_time_sec":
			info.StartTimeSec, err = strconv.ParseInt(v, 10, 64)
		}
		if err != nil {
			return Info{}, fmt.Errorf("%s: %q: %w", k, v, err)
		}
	}
	if err := sc.Err(); err != nil {
		return Info{}, err
	}
	if !havePid {
		return Info{}, fmt.Errorf("no Pid line in the answer %q", firstLine(bytes.TrimSpace(reply)))
	}
	return info, nil
}

// RestartDetector tells whether a load balancer restarted between two
// `show info` answers. Each consumer keeps its own detector, since "new
// since the last look" depends on who looked. The zero value is ready to
// use; it is safe for concurrent use.
type RestartDetector struct {
	mu   sync.Mutex
	last map[string]Info
}

// Restarted records info for lb and reports whether it comes from another
// process than the previous one recorded: the pid or the start time
// changed, or (without a start time) the uptime went backwards. The first
// info recorded for a load balancer is not a restart: there is nothing to
// compare with.
func (d *RestartDetector) Restarted(lb string, info Info) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.last == nil {
		d.last = map[string]Info{}
	}
	prev, ok := d.last[lb]
	d.last[lb] = info
	if !ok {
		return false
	}
	switch {
	case info.Pid != prev.Pid:
		// A reload starts a new process; in a container the pid may
		// repeat, which the start time catches.
		return true
	case info.StartTimeSec != 0 && prev.StartTimeSec != 0:
		return info.StartTimeSec != prev.StartTimeSec
	default:
		return info.UptimeSec < prev.UptimeSec
	}
}
