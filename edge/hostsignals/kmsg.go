package hostsignals

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rackwatch/rackwatch/edge/sample"
)

// Metric names of kernel log events.
const (
	KernelSynFlood   = "kernel_syn_flood_total"
	KernelSocketOOM  = "kernel_socket_memory_exhausted_total"
	KernelLinkEvents = "kernel_link_events_total"
)

// maxKmsgSeries bounds the ports and interfaces counted: the kernel log is
// input, and a flood of distinct ports must not grow memory without limit.
const maxKmsgSeries = 256

type kmsgKey struct{ metric, name, value, state string }

// Kmsg counts the kernel log lines that explain API latency. It reads
// /dev/kmsg (one record per read, "prio,seq,usec,flags;message") or, in
// tests, a file in the same format.
type Kmsg struct {
	Path string
	Now  func() time.Time

	mu      sync.Mutex
	counts  map[kmsgKey]uint64
	order   []kmsgKey
	dropped uint64
}

// NewKmsg returns a reader of the kernel log at path (normally /dev/kmsg).
func NewKmsg(path string) *Kmsg {
	return &Kmsg{Path: path, Now: time.Now, counts: map[kmsgKey]uint64{}}
}

// Run reads records until ctx ends. On /dev/kmsg it starts at the end of the
// ring buffer, so a restart does not count old lines again; on a regular
// file it reads to the end and returns.
func (k *Kmsg) Run(ctx context.Context) error {
	f, err := os.Open(k.Path)
	if err != nil {
		return fmt.Errorf("hostsignals: kernel log: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { f.Close() })
	defer stop()
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("hostsignals: kernel log: %w", err)
	}
	if st.Mode()&os.ModeCharDevice != 0 {
		if _, err := f.Seek(0, io.SeekEnd); err != nil {
			return fmt.Errorf("hostsignals: kernel log: seek: %w", err)
		}
		buf := make([]byte, 8192) // a /dev/kmsg read returns one whole record
		for {
			n, err := f.Read(buf)
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, syscallEPIPE) {
				continue // records were overwritten before we read them
			}
			if err != nil {
				return fmt.Errorf("hostsignals: read kernel log: %w", err)
			}
			k.Line(string(buf[:n]))
		}
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k.Line(sc.Text())
	}
	if ctx.Err() != nil {
		return nil
	}
	return sc.Err()
}

// Line counts one kmsg record.
func (k *Kmsg) Line(rec string) {
	_, msg, ok := strings.Cut(rec, ";")
	if !ok {
		return // a continuation line (" KEY=value") or garbage
	}
	msg = strings.TrimRight(msg, "\n")
	switch {
	case strings.Contains(msg, "Possible SYN flooding on port"):
		k.count(kmsgKey{KernelSynFlood, "port", synPort(msg), ""})
	case strings.Contains(msg, "Out of socket memory"), strings.Contains(msg, "TCP: out of memory"):
		k.count(kmsgKey{KernelSocketOOM, "", "", ""})
	default:
		if ifname, state, ok := linkChange(msg); ok {
			k.count(kmsgKey{KernelLinkEvents, "ifname", ifname, state})
		}
	}
}

// synPort extracts the port of "Possible SYN flooding on port 443." or, on
// newer kernels, "... on port [::]:443." or "... on port 0.0.0.0:443.".
func synPort(msg string) string {
	_, rest, _ := strings.Cut(msg, "on port ")
	p, _, _ := strings.Cut(rest, " ")
	p = strings.TrimSuffix(p, ".")
	if i := strings.LastIndexByte(p, ':'); i >= 0 {
		p = p[i+1:]
	}
	return p
}

// linkChange recognises the link messages of the common NIC drivers:
// e1000e/igb/ixgbe/i40e/bnxt_en "... eth0: NIC Link is Up 1000 Mbps ...",
// "igb: eno1 NIC Link is Down", and mlx5/ice "... ens1f0: Link up".
func linkChange(msg string) (ifname, state string, ok bool) {
	for _, p := range []struct{ marker, state string }{
		{"NIC Link is Up", "up"}, {"NIC Link is Down", "down"},
		{": Link up", "up"}, {": Link down", "down"},
	} {
		i := strings.Index(msg, p.marker)
		if i < 0 {
			continue
		}
		before := strings.Fields(msg[:i])
		if len(before) == 0 {
			return "", "", false
		}
		name := strings.TrimRight(before[len(before)-1], ":")
		if name == "" {
			return "", "", false
		}
		return name, p.state, true
	}
	return "", "", false
}

func (k *Kmsg) count(key kmsgKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.counts[key]; !ok {
		if len(k.counts) >= maxKmsgSeries {
			k.dropped++
			return
		}
		k.order = append(k.order, key)
	}
	k.counts[key]++
}

// Samples returns the counters.
func (k *Kmsg) Samples() []sample.Sample {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.Now()
	out := make([]sample.Sample, 0, len(k.order))
	for _, key := range k.order {
		var ls sample.Labels
		switch {
		case key.state != "":
			ls = sample.L(key.name, key.value, "state", key.state)
		case key.name != "":
			ls = sample.L(key.name, key.value)
		}
		out = append(out, sample.Sample{Metric: key.metric, Labels: ls, Value: sample.Uint(k.counts[key]), Unit: "events", TS: now})
	}
	return out
}
