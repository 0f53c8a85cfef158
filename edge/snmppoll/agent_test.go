package snmppoll

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// udpAgent answers SNMP requests on UDP loopback with whatever answer makes
// of the decoded request, so that tests put on the wire what well-behaved
// agents never send. A nil answer sends nothing.
type udpAgent struct {
	addr     string
	requests atomic.Int32
}

func startUDPAgent(t *testing.T, answer func(req *gosnmp.SnmpPacket) []byte) *udpAgent {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &udpAgent{addr: pc.LocalAddr().String()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		dec := &gosnmp.GoSNMP{Version: gosnmp.Version2c}
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			a.requests.Add(1)
			req, err := dec.SnmpDecodePacket(buf[:n])
			if err != nil {
				t.Errorf("agent: decode request: %v", err)
				continue
			}
			if b := answer(req); b != nil {
				pc.WriteTo(b, from)
			}
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		<-done
	})
	return a
}

// respond encodes a GetResponse to req.
func respond(t *testing.T, req *gosnmp.SnmpPacket, vbs ...gosnmp.SnmpPDU) []byte {
	pkt := &gosnmp.SnmpPacket{Version: req.Version, Community: req.Community, PDUType: gosnmp.GetResponse, RequestID: req.RequestID, Variables: vbs}
	b, err := pkt.MarshalMsg()
	if err != nil {
		t.Errorf("agent: encode: %v", err)
	}
	return b
}

// answerSystem answers the poll's GET of the system group.
func answerSystem(t *testing.T, req *gosnmp.SnmpPacket) []byte {
	var vbs []gosnmp.SnmpPDU
	for _, v := range req.Variables {
		switch v.Name {
		case sysUpTime0:
			vbs = append(vbs, gosnmp.SnmpPDU{Name: v.Name, Type: gosnmp.TimeTicks, Value: uint32(4200)})
		case sysObjectID0:
			vbs = append(vbs, gosnmp.SnmpPDU{Name: v.Name, Type: gosnmp.ObjectIdentifier, Value: ".1.3.6.1.4.1.8072.3.2.10"})
		case sysDescr0:
			vbs = append(vbs, gosnmp.SnmpPDU{Name: v.Name, Type: gosnmp.OctetString, Value: []byte("Linux")})
		default:
			vbs = append(vbs, gosnmp.SnmpPDU{Name: v.Name, Type: gosnmp.NoSuchObject})
		}
	}
	return respond(t, req, vbs...)
}

// TestBadAgents polls, through gosnmp on UDP, agents that answer what they
// should not: every problem is an error naming the target, never a panic
// or a hang.
func TestBadAgents(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		profiles []string
		answer   func(t *testing.T, req *gosnmp.SnmpPacket) []byte
		wantErrs []string
		is       error
		samples  int
	}{
		{
			name:     "garbage",
			answer:   func(*testing.T, *gosnmp.SnmpPacket) []byte { return []byte("HTTP/1.1 400 Bad Request\r\n\r\n") },
			wantErrs: []string{"get sysUpTime, sysObjectID, sysDescr: "},
		},
		{
			name: "truncated",
			answer: func(t *testing.T, req *gosnmp.SnmpPacket) []byte {
				b := answerSystem(t, req)
				return b[:len(b)/2]
			},
			wantErrs: []string{"get sysUpTime, sysObjectID, sysDescr: "},
		},
		{
			name:     "non-increasing OIDs",
			profiles: []string{"lm-sensors"},
			answer: func(t *testing.T, req *gosnmp.SnmpPacket) []byte {
				if req.PDUType == gosnmp.GetRequest {
					return answerSystem(t, req)
				}
				// The device names come back in a loop.
				return respond(t, req,
					octets(oidLmTempDevice+".5", "a"), gauge32(oidLmTempValue+".5", 1000),
					octets(oidLmTempDevice+".3", "b"), gauge32(oidLmTempValue+".3", 1000))
			},
			wantErrs: []string{"walk lmTempSensorsTable: OID not increasing: .1.3.6.1.4.1.2021.13.16.2.1.2.3 after .1.3.6.1.4.1.2021.13.16.2.1.2.5"},
			is:       ErrNotIncreasing,
		},
		{
			name: "noSuchObject everywhere",
			answer: func(t *testing.T, req *gosnmp.SnmpPacket) []byte {
				var vbs []gosnmp.SnmpPDU
				for _, v := range req.Variables {
					typ := gosnmp.NoSuchObject
					if req.PDUType != gosnmp.GetRequest {
						typ = gosnmp.EndOfMibView
					}
					vbs = append(vbs, gosnmp.SnmpPDU{Name: v.Name, Type: typ})
				}
				return respond(t, req, vbs...)
			},
			wantErrs: []string{`no profile matches the agent (sysObjectID absent, sysDescr "")`},
			is:       ErrNoMatch,
		},
		{
			name: "answer for another object",
			answer: func(t *testing.T, req *gosnmp.SnmpPacket) []byte {
				return respond(t, req, gosnmp.SnmpPDU{Name: ".1.3.6.1.2.1.1.5.0", Type: gosnmp.OctetString, Value: []byte("x")},
					gosnmp.SnmpPDU{Name: ".1.3.6.1.2.1.1.6.0", Type: gosnmp.OctetString, Value: []byte("x")},
					gosnmp.SnmpPDU{Name: ".1.3.6.1.2.1.1.7.0", Type: gosnmp.OctetString, Value: []byte("x")})
			},
			wantErrs: []string{"get sysUpTime, sysObjectID, sysDescr: answer names .1.3.6.1.2.1.1.5.0 for .1.3.6.1.2.1.1.3.0"},
		},
		{
			name:     "absurd values",
			profiles: []string{"if-mib"},
			answer: func(t *testing.T, req *gosnmp.SnmpPacket) []byte {
				if req.PDUType == gosnmp.GetRequest {
					return answerSystem(t, req)
				}
				var vbs []gosnmp.SnmpPDU
				for _, v := range req.Variables {
					switch v.Name {
					case "." + oidIfDescr:
						vbs = append(vbs, octets(oidIfDescr+".1", "eth0"))
					case "." + oidIfInErrors:
						// A negative "counter".
						vbs = append(vbs, intPDU(oidIfInErrors+".1", -3))
					case "." + oidIfOutErrors:
						vbs = append(vbs, counter32(oidIfOutErrors+".1", 7))
					default:
						vbs = append(vbs, gosnmp.SnmpPDU{Name: v.Name, Type: gosnmp.EndOfMibView})
					}
				}
				return respond(t, req, vbs...)
			},
			wantErrs: []string{"ifTable ifInErrors.1: wrong type: want Counter32 or Counter64, got Integer -3"},
			samples:  1,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := startUDPAgent(t, func(req *gosnmp.SnmpPacket) []byte { return tt.answer(t, req) })
			p, err := New(&Opts{Name: "tor1", Address: a.addr, Timeout: 200 * time.Millisecond, Retries: 1, Profiles: tt.profiles})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ss, err := p.Poll(ctx)
			if len(ss) != tt.samples {
				t.Errorf("samples %q, want %d", render(ss), tt.samples)
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), "snmppoll: tor1 ("+a.addr+"): ") {
				t.Errorf("err = %v, want it to name the target", err)
			}
			for _, w := range tt.wantErrs {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want %q", err, w)
				}
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
			t.Logf("%s: %v", tt.name, err)
		})
	}
}
