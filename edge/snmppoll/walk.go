package snmppoll

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gosnmp/gosnmp"
)

// ErrNotIncreasing is wrapped by the error of a walk in which the agent
// answered an OID that does not follow the one asked for: a broken agent
// that would otherwise make the walk loop forever (RFC 3416 §4.2.2 requires
// the next OID in lexicographic order).
var ErrNotIncreasing = errors.New("OID not increasing")

// AgentError is an error-status the agent answered with (RFC 3416 §3),
// such as genErr or tooBig.
type AgentError struct {
	Status gosnmp.SNMPError
	// OID is the object at the error-index, when it is valid.
	OID string
}

func (e *AgentError) Error() string {
	if e.OID == "" {
		return fmt.Sprintf("agent answered %v", e.Status)
	}
	return fmt.Sprintf("agent answered %v for %s", e.Status, e.OID)
}

func agentError(pkt *gosnmp.SnmpPacket, req []string) error {
	e := &AgentError{Status: pkt.Error}
	if i := int(pkt.ErrorIndex); i >= 1 && i <= len(req) {
		e.OID = req[i-1]
	}
	return e
}

// maxBulkVarbinds bounds the varbinds one GETBULK asks for, columns times
// repetitions; agents answer fewer when the message would be too large
// (RFC 3416 §4.2.3), which the walk handles.
const maxBulkVarbinds = 512

// cursor is the position of one column's walk.
type cursor struct {
	root, prefix string // ".OID" and ".OID."
	next         string // the OID to ask the successor of
	done         bool
}

// requester sends the requests of a poll. It keeps its scratch slices
// between polls.
type requester struct {
	client snmpClient
	bulk   bool   // GETBULK (SNMPv2c and v3) or GETNEXT (SNMPv1)
	reps   uint32 // max-repetitions
	// batch bounds the OIDs of one request; it starts at gosnmp's MaxOids
	// and halves when an agent answers tooBig.
	batch int
	req   []string
	pos   []int
}

// walk walks the columns of cur together: each request asks for the next
// rows of every unfinished column (up to r.batch of them), so a table of k
// columns and n rows takes about n/reps requests rather than k·n/reps.
// deliver receives each PDU with its column; returning false ends that
// column's walk. reps overrides r.reps when not zero.
func (r *requester) walk(ctx context.Context, cur []cursor, reps uint32, deliver func(col int, pdu *gosnmp.SnmpPDU) bool) error {
	for i := range cur {
		cur[i].next, cur[i].done = cur[i].root, false
	}
	if reps == 0 {
		reps = r.reps
	}
	for {
		r.req, r.pos = r.req[:0], r.pos[:0]
		for i := range cur {
			if !cur[i].done && len(r.req) < r.batch {
				r.req = append(r.req, cur[i].next)
				r.pos = append(r.pos, i)
			}
		}
		if len(r.req) == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		var pkt *gosnmp.SnmpPacket
		var err error
		if r.bulk {
			n := reps
			if per := uint32(maxBulkVarbinds / len(r.req)); n > per {
				n = max(per, 1)
			}
			pkt, err = r.client.GetBulk(r.req, 0, n)
		} else {
			pkt, err = r.client.GetNext(r.req)
		}
		if err != nil {
			return err
		}
		switch {
		case pkt.Error == gosnmp.NoError:
		case pkt.Error == gosnmp.NoSuchName && int(pkt.ErrorIndex) >= 1 && int(pkt.ErrorIndex) <= len(r.req):
			// SNMPv1 answers a GETNEXT past the end of the MIB view with
			// noSuchName for that varbind and fails the whole request
			// (RFC 1157 §4.1.3): that column is done, ask again for the
			// others.
			cur[r.pos[pkt.ErrorIndex-1]].done = true
			continue
		case pkt.Error == gosnmp.TooBig && (len(r.req) > 1 || reps > 1):
			if reps > 1 {
				reps /= 2
			} else {
				r.batch = max(1, len(r.req)/2)
			}
			continue
		default:
			return agentError(pkt, r.req)
		}
		if len(pkt.Variables) == 0 {
			return errors.New("empty answer")
		}
		progress := false
		for j := range pkt.Variables {
			vb := &pkt.Variables[j]
			i := r.pos[j%len(r.pos)]
			c := &cur[i]
			if c.done {
				continue
			}
			progress = true
			if vb.Type == gosnmp.EndOfMibView || vb.Type == gosnmp.NoSuchObject || vb.Type == gosnmp.NoSuchInstance ||
				!strings.HasPrefix(dotted(vb.Name), c.prefix) {
				c.done = true
				continue
			}
			if compareOID(vb.Name, c.next) <= 0 {
				return fmt.Errorf("%w: %s after %s", ErrNotIncreasing, vb.Name, c.next)
			}
			c.next = vb.Name
			if !deliver(i, vb) {
				c.done = true
			}
		}
		if !progress {
			return errors.New("answer without progress")
		}
	}
}

// get reads oids with GET, r.batch at a time (split when too many for one
// request), and hands each answer to deliver with its position in oids. An
// object the agent does not have comes back as a NoSuchObject or
// NoSuchInstance PDU.
func (r *requester) get(ctx context.Context, oids []string, deliver func(i int, pdu *gosnmp.SnmpPDU)) error {
	for start := 0; start < len(oids); {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := min(len(oids), start+r.batch)
		r.req, r.pos = r.req[:0], r.pos[:0]
		for i := start; i < end; i++ {
			r.req = append(r.req, oids[i])
			r.pos = append(r.pos, i)
		}
		retry := false
		for len(r.req) > 0 {
			pkt, err := r.client.Get(r.req)
			if err != nil {
				return err
			}
			if pkt.Error == gosnmp.NoSuchName && int(pkt.ErrorIndex) >= 1 && int(pkt.ErrorIndex) <= len(r.req) {
				// SNMPv1 fails a whole GET for one missing object
				// (RFC 1157 §4.1.2): report it missing, ask for the rest.
				j := int(pkt.ErrorIndex) - 1
				deliver(r.pos[j], &gosnmp.SnmpPDU{Name: r.req[j], Type: gosnmp.NoSuchObject})
				r.req = slices.Delete(r.req, j, j+1)
				r.pos = slices.Delete(r.pos, j, j+1)
				continue
			}
			if pkt.Error == gosnmp.TooBig && len(r.req) > 1 {
				r.batch = max(1, len(r.req)/2)
				retry = true
				break
			}
			if pkt.Error != gosnmp.NoError {
				return agentError(pkt, r.req)
			}
			if len(pkt.Variables) != len(r.req) {
				return fmt.Errorf("%d values in the answer to a GET of %d", len(pkt.Variables), len(r.req))
			}
			for j := range pkt.Variables {
				vb := &pkt.Variables[j]
				if compareOID(vb.Name, r.req[j]) != 0 {
					return fmt.Errorf("answer names %s for %s", vb.Name, r.req[j])
				}
				deliver(r.pos[j], vb)
			}
			break
		}
		if !retry {
			start = end
		}
	}
	return nil
}

// dotted returns oid with a leading dot, as the prefixes are written;
// gosnmp names PDUs that way already.
func dotted(oid string) string {
	if strings.HasPrefix(oid, ".") {
		return oid
	}
	return "." + oid
}

// compareOID orders dotted OIDs arc by arc, numerically, with or without a
// leading dot, without allocating. A malformed arc compares as its digits
// so far.
func compareOID(a, b string) int {
	a = strings.TrimPrefix(a, ".")
	b = strings.TrimPrefix(b, ".")
	for {
		switch {
		case a == "" && b == "":
			return 0
		case a == "":
			return -1
		case b == "":
			return 1
		}
		var x, y uint64
		x, a = nextArc(a)
		y, b = nextArc(b)
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
}

func nextArc(s string) (uint64, string) {
	var v uint64
	i := 0
	for ; i < len(s) && s[i] != '.'; i++ {
		if c := s[i]; c >= '0' && c <= '9' && v < 1<<59 {
			v = v*10 + uint64(c-'0')
		}
	}
	if i < len(s) {
		i++
	}
	return v, s[i:]
}
