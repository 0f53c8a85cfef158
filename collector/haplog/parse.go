package haplog

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// Entry is one request from an httplog line. Timers are in milliseconds; -1
// means the phase did not happen (no server response, for instance).
type Entry struct {
	Frontend, Backend, Server string
	TR, Tw, Tc, Tr, Ta        int
	Status                    int
}

// ErrNotHTTPLog is returned for a line that is not an httplog request line
// (a startup message, a tcplog line, an alert).
var ErrNotHTTPLog = errors.New("haplog: not an httplog line")

// ParseHTTPLog parses the message part of an httplog line:
//
//	127.0.0.1:45678 [26/Nov/2026:13:00:00.123] fe api/s1 0/0/0/12/12 200 150 - - ---- 1/1/0/0/0 0/0 "GET / HTTP/1.1"
//
// A syslog header before it ("<134>Nov 26 13:00:00 haproxy[123]: ") is
// skipped.
func ParseHTTPLog(line []byte) (Entry, error) {
	// The accept date in brackets anchors the format; everything before it
	// is the syslog header and the client address.
	i := bytes.Index(line, []byte("] "))
	if i < 0 || bytes.IndexByte(line[:i], '[') < 0 {
		return Entry{}, ErrNotHTTPLog
	}
	f := bytes.Fields(line[i+2:])
	if len(f) < 4 {
		return Entry{}, ErrNotHTTPLog
	}
	var e Entry
	e.Frontend = string(bytes.TrimSuffix(f[0], []byte("~"))) // "~" marks an SSL frontend
	be, srv, ok := bytes.Cut(f[1], []byte("/"))
	if !ok {
		return Entry{}, ErrNotHTTPLog
	}
	e.Backend, e.Server = string(be), string(srv)
	timers := bytes.Split(f[2], []byte("/"))
	if len(timers) != 5 {
		return Entry{}, fmt.Errorf("%w: timers %q", ErrNotHTTPLog, f[2])
	}
	dst := []*int{&e.TR, &e.Tw, &e.Tc, &e.Tr, &e.Ta}
	for k, t := range timers {
		// Ta may carry a "+" when option logasap logs before the end.
		v, err := strconv.Atoi(string(bytes.TrimPrefix(t, []byte("+"))))
		if err != nil || v < -1 {
			return Entry{}, fmt.Errorf("%w: timer %q", ErrNotHTTPLog, t)
		}
		*dst[k] = v
	}
	st, err := strconv.Atoi(string(f[3]))
	if err != nil || st < -1 || st > 999 {
		return Entry{}, fmt.Errorf("%w: status %q", ErrNotHTTPLog, f[3])
	}
	e.Status = st
	return e, nil
}
