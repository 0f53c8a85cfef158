package snmppoll

import (
	"context"
	"io"
	"log"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/rackwatch/rackwatch/deploy/testrig"
)

// notPointed are the exported fields of gosnmp.GoSNMP that pointAt leaves
// alone: the request hooks and the trap listener's table, which a Poller
// never sets.
var notPointed = map[string]bool{
	"PreSend": true, "OnSent": true, "OnRecv": true, "OnRetry": true, "OnFinish": true,
	"TrapSecurityParametersTable": true,
}

// TestPointAtCopiesEveryField fails when a gosnmp upgrade adds a setting
// that a lane would not carry from its agent.
func TestPointAtCopiesEveryField(t *testing.T) {
	t.Parallel()
	src, dst := &gosnmp.GoSNMP{}, &gosnmp.GoSNMP{}
	sv := reflect.ValueOf(src).Elem()
	typ := sv.Type()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() || notPointed[f.Name] {
			continue
		}
		v := sv.Field(i)
		switch f.Name {
		case "Conn":
			v.Set(reflect.ValueOf(&net.UDPConn{}))
		case "Context":
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			v.Set(reflect.ValueOf(ctx))
		case "SecurityParameters":
			v.Set(reflect.ValueOf(&gosnmp.UsmSecurityParameters{UserName: "u"}))
		case "Logger":
			v.Set(reflect.ValueOf(gosnmp.NewLogger(log.New(io.Discard, "", 0))))
		default:
			switch v.Kind() {
			case reflect.String:
				v.SetString("x")
			case reflect.Bool:
				v.SetBool(true)
			case reflect.Int, reflect.Int64:
				v.SetInt(7)
			case reflect.Uint8, reflect.Uint16, reflect.Uint32:
				v.SetUint(7)
			case reflect.Map:
				v.Set(reflect.MakeMap(v.Type()))
				v.SetMapIndex(reflect.ValueOf("k"), reflect.ValueOf(any(1)))
			case reflect.Func:
				v.Set(reflect.MakeFunc(v.Type(), func([]reflect.Value) []reflect.Value {
					return []reflect.Value{reflect.Zero(v.Type().Out(0))}
				}))
			default:
				t.Fatalf("gosnmp.GoSNMP has a new field %s (%s): decide whether pointAt copies it", f.Name, f.Type)
			}
		}
	}
	pointAt(dst, src)
	dv := reflect.ValueOf(dst).Elem()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() || notPointed[f.Name] {
			continue
		}
		got, want := dv.Field(i), sv.Field(i)
		if f.Type.Kind() == reflect.Func {
			if got.IsNil() {
				t.Errorf("pointAt does not copy %s", f.Name)
			}
			continue
		}
		if !reflect.DeepEqual(got.Interface(), want.Interface()) {
			t.Errorf("pointAt does not copy %s", f.Name)
		}
	}
}

func TestLanePool(t *testing.T) {
	t.Parallel()
	now := time.Unix(1e9, 0)
	lp := newLanePool(func() time.Time { return now })
	if lp.get() != nil {
		t.Fatal("an empty pool lent a lane")
	}
	step := laneIdleFor / 3
	lanes := []*gosnmp.GoSNMP{{}, {}, {}}
	for _, g := range lanes {
		g.Conn, g.Context, g.SecurityParameters = &net.UDPConn{}, context.Background(), &gosnmp.UsmSecurityParameters{}
		lp.put(g)
		if g.Conn != nil || g.Context != nil || g.SecurityParameters != nil {
			t.Errorf("a lane kept its agent's socket, context or SNMPv3 state: %+v", g)
		}
		now = now.Add(step)
	}
	// The last returned is lent first, so the others can age out.
	if g := lp.get(); g != lanes[2] {
		t.Error("the pool did not lend its most recently returned lane")
	}
	now = now.Add(step)
	lp.put(lanes[2])
	// lanes[0] has been idle for longer than laneIdleFor, lanes[1] for
	// just that long.
	if len(lp.idle) != 2 || lp.idle[0].g != lanes[1] || lp.idle[1].g != lanes[2] {
		t.Errorf("idle lanes %v, want lanes[1] and lanes[2]", lp.idle)
	}
	now = now.Add(time.Hour)
	lp.put(&gosnmp.GoSNMP{})
	if len(lp.idle) != 1 {
		t.Errorf("%d idle lanes an hour on, want the one just returned", len(lp.idle))
	}
}

// holdsBuffer says whether a gosnmp client owns a receive buffer.
func holdsBuffer(g *gosnmp.GoSNMP) bool {
	return !reflect.ValueOf(g).Elem().FieldByName("rxBuf").IsNil()
}

// TestIntegrationAgentsShareLanes polls many agents at once and then one
// after another: every poll succeeds, no agent keeps a buffer, and polls
// that do not overlap share one lane.
func TestIntegrationAgentsShareLanes(t *testing.T) {
	t.Parallel()
	agent := testrig.StartSnmpd(t, testrig.SnmpdOpts{Config: "createUser u1 SHA-256 auth-256-pass AES priv-aes-pass\nrouser u1 priv\n"})
	lp := newLanePool(time.Now)
	var pollers []*Poller
	var clients []*agentClient
	for i := range 12 {
		opts := &Opts{Name: "host", Address: agent.Addr, Community: agent.Community, Profiles: []string{"if-mib"}}
		if i%3 == 0 {
			opts.Version, opts.Community, opts.User = "3", "", "u1"
			opts.AuthProtocol, opts.AuthPassphrase, opts.PrivProtocol, opts.PrivPassphrase = "SHA-256", "auth-256-pass", "AES", "priv-aes-pass"
		}
		p, err := New(opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		ac, ok := p.client.(*agentClient)
		if u, v3 := p.client.(*usmClient); v3 {
			ac, ok = u.agentClient, true
		}
		if !ok {
			t.Fatalf("client %T", p.client)
		}
		ac.lanes = lp
		pollers, clients = append(pollers, p), append(clients, ac)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for round := range 3 {
		var wg sync.WaitGroup
		errs := make([]error, len(pollers))
		samples := make([]int, len(pollers))
		for i, p := range pollers {
			wg.Go(func() {
				ss, err := p.Poll(ctx)
				errs[i], samples[i] = err, len(ss)
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil || samples[i] == 0 {
				t.Errorf("round %d, agent %d: %d samples, %v", round, i, samples[i], err)
			}
		}
	}
	if n := len(lp.idle); n == 0 || n > len(pollers) {
		t.Errorf("%d idle lanes after concurrent polls of %d agents", n, len(pollers))
	}
	seq := newLanePool(time.Now)
	for i, p := range pollers {
		clients[i].lanes = seq
		if _, err := p.Poll(ctx); err != nil {
			t.Errorf("agent %d: %v", i, err)
		}
	}
	if len(seq.idle) != 1 || !holdsBuffer(seq.idle[0].g) {
		t.Errorf("polls one after another left %d idle lanes, want one with a buffer", len(seq.idle))
	}
	for i, ac := range clients {
		if holdsBuffer(ac.cfg) {
			t.Errorf("agent %d holds a receive buffer of its own", i)
		}
	}
}
