package edgenode

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"reflect"
	"sync"
	"time"

	"github.com/rackwatch/rackwatch/edge/config"
	"github.com/rackwatch/rackwatch/edge/publish"
	"github.com/rackwatch/rackwatch/edge/traps"
)

// trapInputs is what the notification receiver is built from: a reload
// restarts it only when they change.
type trapInputs struct {
	Traps   config.Traps
	Targets [][2]string // name, address
}

func trapInputsOf(cfg *config.Config) trapInputs {
	in := trapInputs{Traps: cfg.Traps}
	for _, t := range cfg.SNMP {
		in.Targets = append(in.Targets, [2]string{t.Name, t.Address})
	}
	return in
}

func (a trapInputs) equal(b trapInputs) bool { return reflect.DeepEqual(a, b) }

// trapReceiver builds the notification receiver. A notification is
// published under the SNMP target whose address sent it, with the
// interface named as that target's last poll named it (ifName).
func trapReceiver(cfg *config.Config, ifName func(device string, ifIndex int) (string, bool), pub *publish.Publisher, log *slog.Logger, now func() time.Time) (*traps.Receiver, error) {
	targets := map[netip.Addr]string{}
	for _, t := range cfg.SNMP {
		host := t.Address
		if h, _, err := net.SplitHostPort(t.Address); err == nil {
			host = h
		}
		addrs := []netip.Addr{}
		if a, err := netip.ParseAddr(host); err == nil {
			addrs = append(addrs, a)
		} else if ips, err := net.LookupIP(host); err == nil {
			for _, ip := range ips {
				if a, ok := netip.AddrFromSlice(ip); ok {
					addrs = append(addrs, a.Unmap())
				}
			}
		} else {
			log.Warn("cannot resolve an SNMP target for trap matching", "target", t.Name, "address", t.Address, "err", err)
		}
		for _, a := range addrs {
			targets[a] = t.Name
		}
	}
	o := cfg.Traps.TrapOpts()
	o.Targets, o.Logger, o.Now = targets, log, now
	o.Handler = func(e traps.Event) {
		if err := pub.Enqueue(e.Device, e.Samples(ifName)); err != nil {
			log.Warn("queueing a notification", "device", e.Device, "err", err)
		}
	}
	r, err := traps.New(o)
	if err != nil {
		return nil, fmt.Errorf("edgenode: %w", err)
	}
	return r, nil
}

// trapRunner owns the running receiver, which a reload may replace.
type trapRunner struct {
	log *slog.Logger

	mu       sync.Mutex
	inputs   trapInputs
	receiver *traps.Receiver
	cancel   context.CancelFunc
	done     chan struct{}
}

// replace stops the running receiver, if any, and runs r (nil: none)
// until ctx ends or the next replace.
func (t *trapRunner) replace(ctx context.Context, r *traps.Receiver, in trapInputs) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopLocked()
	t.inputs, t.receiver = in, r
	if r == nil {
		return
	}
	ctx, t.cancel = context.WithCancel(ctx)
	t.done = make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		if err := r.Run(ctx); err != nil {
			t.log.Error("trap receiver stopped", "err", err)
		}
	}(t.done)
}

func (t *trapRunner) current() (trapInputs, *traps.Receiver) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.inputs, t.receiver
}

// stop stops the running receiver and waits for it.
func (t *trapRunner) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopLocked()
}

func (t *trapRunner) stopLocked() {
	if t.cancel != nil {
		t.cancel()
		<-t.done
		t.cancel, t.done, t.receiver = nil, nil, nil
	}
}
