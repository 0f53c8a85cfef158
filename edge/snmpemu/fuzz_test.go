package snmpemu

import (
	"context"
	"testing"

	"github.com/gosnmp/gosnmp"
)

// FuzzHandle feeds arbitrary datagrams to the request handler without the
// recover that guards it in service, so that a panic fails. Whatever it
// answers
// must be a response gosnmp decodes, with the request's ID, within the
// message size. The seed corpus in testdata/fuzz/FuzzHandle holds GET,
// GETNEXT, GETBULK and SET requests of both versions, a v3 message, a trap
// and truncated and corrupted variants.
func FuzzHandle(f *testing.F) {
	for _, pkt := range seedPackets() {
		f.Add(pkt)
	}
	sw, err := NewSwitch(&SwitchOpts{Ports: 4})
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.Cleanup(cancel)
	a, err := Start(ctx, &Opts{Table: sw.Table(), MaxMessageSize: 1400})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { a.Close() })
	f.Fuzz(func(t *testing.T, b []byte) {
		h := newHandler(a)
		out := h.handleNoRecover(b)
		if out == nil {
			return
		}
		if len(out) > a.maxSize {
			t.Fatalf("response of %d bytes, limit %d", len(out), a.maxSize)
		}
		dec := &gosnmp.GoSNMP{Version: gosnmp.Version2c}
		resp, err := dec.SnmpDecodePacket(out)
		if err != nil {
			t.Fatalf("undecodable response: %v", err)
		}
		req, err := dec.SnmpDecodePacket(b)
		if err != nil {
			t.Fatalf("answered an undecodable request: %v", err)
		}
		if resp.PDUType != gosnmp.GetResponse || resp.RequestID != req.RequestID {
			t.Fatalf("response %v id %d to request id %d", resp.PDUType, resp.RequestID, req.RequestID)
		}
	})
}

// seedPackets are well-formed requests; the committed corpus adds
// malformed ones.
func seedPackets() [][]byte {
	var out [][]byte
	add := func(p *gosnmp.SnmpPacket) {
		b, err := p.MarshalMsg()
		if err == nil {
			out = append(out, b)
		}
	}
	names := []gosnmp.SnmpPDU{{Name: ".1.3.6.1.2.1.1.3.0", Type: gosnmp.Null}, {Name: ".1.3.6.1.2.1.2.2.1.2", Type: gosnmp.Null}}
	for _, v := range []gosnmp.SnmpVersion{gosnmp.Version1, gosnmp.Version2c} {
		for _, t := range []gosnmp.PDUType{gosnmp.GetRequest, gosnmp.GetNextRequest, gosnmp.GetBulkRequest, gosnmp.SetRequest} {
			add(&gosnmp.SnmpPacket{Version: v, Community: "public", PDUType: t, RequestID: 42, NonRepeaters: 1, MaxRepetitions: 10, Variables: names})
		}
	}
	return out
}
