package snmpemu

import (
	"time"

	"github.com/gosnmp/gosnmp"
)

// handler answers requests; each serving goroutine has its own, as
// gosnmp's decoder keeps state.
type handler struct {
	a   *Agent
	dec *gosnmp.GoSNMP
	vbs []gosnmp.SnmpPDU // the response being built, reused
	cur []oid            // GETBULK cursors, reused
	end []bool
}

func newHandler(a *Agent) *handler {
	return &handler{a: a, dec: &gosnmp.GoSNMP{Version: gosnmp.Version2c}}
}

// PDU error-status values (RFC 3416 §3; RFC 1157 §4.1.1 for the first six).
const (
	errTooBig     = gosnmp.TooBig
	errNoSuchName = gosnmp.NoSuchName
	errGenErr     = gosnmp.GenErr
	errNoAccess   = gosnmp.NoAccess
)

// handle returns the response to one datagram, or nil to send none. It
// never panics: the datagram comes from the network, and a decoder bug or
// a model's value function must cost one request, not the agent.
func (h *handler) handle(b []byte) (out []byte) {
	defer func() {
		if recover() != nil {
			h.a.stats.panics.Add(1)
			out = nil
		}
	}()
	return h.handleNoRecover(b)
}

// handleNoRecover is handle without its safety net, for the fuzz test.
func (h *handler) handleNoRecover(b []byte) []byte {
	if len(b) < 2 || b[0] != 0x30 {
		h.a.stats.malformed.Add(1)
		return nil
	}
	if v, ok := peekVersion(b); ok && v != gosnmp.Version1 && v != gosnmp.Version2c {
		// SNMPv3 would need USM; answering it is out of scope.
		h.a.stats.badVersion.Add(1)
		return nil
	}
	req, err := h.dec.SnmpDecodePacket(b)
	if err != nil {
		h.a.stats.malformed.Add(1)
		return nil
	}
	if req.Version != gosnmp.Version1 && req.Version != gosnmp.Version2c {
		h.a.stats.badVersion.Add(1)
		return nil
	}
	if req.Community != h.a.community {
		h.a.stats.badCommunity.Add(1)
		return nil
	}
	resp := &gosnmp.SnmpPacket{Version: req.Version, Community: req.Community, PDUType: gosnmp.GetResponse, RequestID: req.RequestID}
	v1 := req.Version == gosnmp.Version1
	bulk, ok := h.answer(req, resp, v1)
	if !ok {
		h.a.stats.badPDU.Add(1)
		return nil
	}
	if resp.Error != gosnmp.NoError {
		// An error response carries the request's bindings (RFC 3416
		// §4.2.1, RFC 1157 §4.1.2), here with NULL values, which every
		// manager ignores and which always encode.
		resp.Variables = echo(h.vbs[:0], req.Variables)
		h.vbs = resp.Variables
		return h.marshal(resp, req, v1)
	}
	resp.Variables = h.vbs
	out, err := resp.MarshalMsg()
	if err == nil && len(out) <= h.a.maxSize {
		return out
	}
	if bulk {
		// RFC 3416 §4.2.3: a GETBULK response that is too big loses
		// bindings from its end rather than failing.
		if out := h.truncate(resp); out != nil {
			h.a.stats.truncated.Add(1)
			return out
		}
	}
	resp.Error, resp.ErrorIndex = errTooBig, 0
	resp.Variables = nil
	if v1 {
		resp.Variables = echo(nil, req.Variables)
	}
	return h.marshal(resp, req, v1)
}

// answer fills resp for the request from the table, under its read lock
// (released even if a value function panics), and reports whether the
// request is one to answer and whether it was a GETBULK.
func (h *handler) answer(req, resp *gosnmp.SnmpPacket, v1 bool) (bulk, ok bool) {
	h.vbs = h.vbs[:0]
	h.a.table.mu.RLock()
	defer h.a.table.mu.RUnlock()
	now := h.a.table.now()
	switch req.PDUType {
	case gosnmp.GetRequest:
		resp.Error, resp.ErrorIndex = h.get(req.Variables, now, v1)
	case gosnmp.GetNextRequest:
		resp.Error, resp.ErrorIndex = h.getNext(req.Variables, now, v1)
	case gosnmp.GetBulkRequest:
		if v1 {
			return false, false
		}
		resp.Error, resp.ErrorIndex = h.getBulk(req, now)
		return true, true
	case gosnmp.SetRequest:
		// The view is read-only (RFC 3416 §4.2.5: noAccess; RFC 2576
		// §4.4 maps it to noSuchName for SNMPv1).
		resp.Error, resp.ErrorIndex = errNoAccess, 1
		if v1 {
			resp.Error = errNoSuchName
		}
	default:
		return false, false
	}
	return false, true
}

// marshal encodes an error response, or drops it when even that is too big
// (RFC 3416 §4.2.1: snmpSilentDrops).
func (h *handler) marshal(resp, req *gosnmp.SnmpPacket, v1 bool) []byte {
	out, err := resp.MarshalMsg()
	if err == nil && len(out) <= h.a.maxSize {
		if resp.Error == errTooBig {
			h.a.stats.tooBig.Add(1)
		}
		return out
	}
	if resp.Error != errTooBig {
		resp.Error, resp.ErrorIndex = errTooBig, 0
		resp.Variables = nil
		if v1 {
			resp.Variables = echo(nil, req.Variables)
		}
		if out, err := resp.MarshalMsg(); err == nil && len(out) <= h.a.maxSize {
			h.a.stats.tooBig.Add(1)
			return out
		}
	}
	h.a.stats.silentDrops.Add(1)
	return nil
}

// truncate returns the longest prefix of the response's bindings that
// fits, by bisection (one encoding per step), or nil if not even one does.
func (h *handler) truncate(resp *gosnmp.SnmpPacket) []byte {
	all := resp.Variables
	lo, hi := 0, len(all) // lo fits (or is 0), hi does not
	var best []byte
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		resp.Variables = all[:mid]
		out, err := resp.MarshalMsg()
		if err == nil && len(out) <= h.a.maxSize {
			lo, best = mid, out
		} else {
			hi = mid
		}
	}
	resp.Variables = all
	return best
}

func echo(dst, req []gosnmp.SnmpPDU) []gosnmp.SnmpPDU {
	for _, v := range req {
		dst = append(dst, gosnmp.SnmpPDU{Name: v.Name, Type: gosnmp.Null})
	}
	return dst
}

// valueOf returns an entry's value as a binding named name, or false when
// a value function returned something that cannot be encoded.
func valueOf(e *entry, name string, now time.Time) (gosnmp.SnmpPDU, bool) {
	v := e.value(now)
	if e.fn != nil && v.check() != nil {
		return gosnmp.SnmpPDU{}, false
	}
	return gosnmp.SnmpPDU{Name: name, Type: v.Type, Value: v.V}, true
}

// index is an error-index: 1-based, and gosnmp carries it in a byte.
func index(i int) uint8 { return uint8(min(i+1, 255)) }

func (h *handler) get(req []gosnmp.SnmpPDU, now time.Time, v1 bool) (gosnmp.SNMPError, uint8) {
	t := h.a.table
	for i, rv := range req {
		o, err := parseOID(rv.Name)
		var e *entry
		if err == nil {
			e = t.exact(o)
		}
		// SNMPv1 cannot carry a Counter64 (RFC 2576 §4.2.2.1): it is not
		// there for a v1 manager.
		if e == nil || (v1 && e.fn == nil && e.val.Type == gosnmp.Counter64) {
			if v1 {
				return errNoSuchName, index(i)
			}
			typ := gosnmp.NoSuchObject
			if err == nil && t.isInstanceOf(o) {
				typ = gosnmp.NoSuchInstance
			}
			h.vbs = append(h.vbs, gosnmp.SnmpPDU{Name: rv.Name, Type: typ})
			continue
		}
		vb, ok := valueOf(e, rv.Name, now)
		if !ok || (v1 && vb.Type == gosnmp.Counter64) {
			return errGenErr, index(i)
		}
		h.vbs = append(h.vbs, vb)
	}
	return gosnmp.NoError, 0
}

// successor returns the first entry after o that the manager can receive,
// or nil at the end of the view.
func (h *handler) successor(o oid, v1 bool) *entry {
	t := h.a.table
	for i := t.next(o); i < len(t.entries); i++ {
		e := t.entries[i]
		if v1 && e.fn == nil && e.val.Type == gosnmp.Counter64 {
			continue // RFC 2576 §4.2.2.1: skipped for SNMPv1
		}
		return e
	}
	return nil
}

func (h *handler) getNext(req []gosnmp.SnmpPDU, now time.Time, v1 bool) (gosnmp.SNMPError, uint8) {
	for i, rv := range req {
		o, err := parseOID(rv.Name)
		if err != nil {
			return errGenErr, index(i)
		}
		e := h.successor(o, v1)
		if e == nil {
			if v1 {
				return errNoSuchName, index(i)
			}
			h.vbs = append(h.vbs, gosnmp.SnmpPDU{Name: rv.Name, Type: gosnmp.EndOfMibView})
			continue
		}
		vb, ok := valueOf(e, e.name, now)
		if !ok {
			return errGenErr, index(i)
		}
		h.vbs = append(h.vbs, vb)
	}
	return gosnmp.NoError, 0
}

// minVarbindSize is a lower bound of a binding's encoding: sequence, OID
// and value headers of two bytes each, at least one byte per
// sub-identifier after the first two, and the value's content. Generation
// stops once the bound exceeds the message size; the exact size is checked
// on the encoding.
func minVarbindSize(o oid, v gosnmp.SnmpPDU) int {
	n := 6 + max(len(o)-1, 1)
	switch x := v.Value.(type) {
	case []byte:
		n += len(x)
	case string:
		n += 1
	default:
		n++
	}
	return n
}

// getBulk follows RFC 3416 §4.2.3: the first N bindings are GETNEXTs, the
// other R are walked for M repetitions, each repetition a row of R
// bindings; an exhausted binding repeats endOfMibView.
func (h *handler) getBulk(req *gosnmp.SnmpPacket, now time.Time) (gosnmp.SNMPError, uint8) {
	n := min(int(req.NonRepeaters), len(req.Variables))
	if e, i := h.getNext(req.Variables[:n], now, false); e != gosnmp.NoError {
		return e, i
	}
	r := len(req.Variables) - n
	if r == 0 {
		return gosnmp.NoError, 0
	}
	h.cur, h.end = h.cur[:0], h.end[:0]
	names := make([]string, r)
	for j, rv := range req.Variables[n:] {
		o, err := parseOID(rv.Name)
		if err != nil {
			return errGenErr, index(n + j)
		}
		h.cur, h.end, names[j] = append(h.cur, o), append(h.end, false), rv.Name
	}
	size := 32 // message and PDU headers, community aside
	budget := h.a.maxSize - len(req.Community)
	for rep := uint32(0); rep < req.MaxRepetitions; rep++ {
		allEnd := true
		for j := range r {
			if len(h.vbs) >= h.a.maxVBs || size > budget {
				return gosnmp.NoError, 0
			}
			if h.end[j] {
				h.vbs = append(h.vbs, gosnmp.SnmpPDU{Name: names[j], Type: gosnmp.EndOfMibView})
				size += 6 + len(h.cur[j])
				continue
			}
			e := h.successor(h.cur[j], false)
			if e == nil {
				h.end[j] = true
				h.vbs = append(h.vbs, gosnmp.SnmpPDU{Name: names[j], Type: gosnmp.EndOfMibView})
				size += 6 + len(h.cur[j])
				continue
			}
			allEnd = false
			vb, ok := valueOf(e, e.name, now)
			if !ok {
				return errGenErr, index(n + j)
			}
			h.vbs = append(h.vbs, vb)
			h.cur[j], names[j] = e.oid, e.name
			size += minVarbindSize(e.oid, vb)
		}
		if allEnd {
			break
		}
	}
	return gosnmp.NoError, 0
}

// peekVersion reads the version of an SNMP message (RFC 3416 §3: a
// SEQUENCE whose first element is an INTEGER) without decoding the rest,
// so that SNMPv3 messages never reach the v1/v2c decoder.
func peekVersion(b []byte) (gosnmp.SnmpVersion, bool) {
	i := 1
	if i >= len(b) {
		return 0, false
	}
	if l := b[i]; l&0x80 != 0 {
		i += int(l & 0x7f)
	}
	i++
	if i+2 >= len(b) || b[i] != 0x02 || b[i+1] != 1 {
		return 0, false
	}
	return gosnmp.SnmpVersion(b[i+2]), true
}
