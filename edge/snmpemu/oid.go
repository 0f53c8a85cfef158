package snmpemu

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// oid is a parsed object identifier. Sub-identifiers are unsigned 32-bit
// (RFC 2578 §3.5, "at most 128 sub-identifiers", each 0..2^32-1).
type oid []uint32

// maxSubIDs bounds an OID (RFC 2578 §3.5).
const maxSubIDs = 128

var errBadOID = errors.New("snmpemu: bad OID")

// parseOID accepts "1.3.6.1" and ".1.3.6.1", the two forms gosnmp and
// snmprec files use.
func parseOID(s string) (oid, error) {
	s = strings.TrimPrefix(s, ".")
	if s == "" {
		return nil, fmt.Errorf("%w: empty", errBadOID)
	}
	n := strings.Count(s, ".") + 1
	if n > maxSubIDs {
		return nil, fmt.Errorf("%w: %d sub-identifiers (at most %d)", errBadOID, n, maxSubIDs)
	}
	out := make(oid, 0, n)
	for s != "" {
		part, rest, _ := strings.Cut(s, ".")
		v, err := strconv.ParseUint(part, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: %q", errBadOID, s)
		}
		out = append(out, uint32(v))
		s = rest
	}
	return out, nil
}

// String returns the dotted form with a leading dot, as gosnmp writes
// names.
func (o oid) String() string {
	var b strings.Builder
	b.Grow(len(o) * 4)
	for _, v := range o {
		b.WriteByte('.')
		b.WriteString(strconv.FormatUint(uint64(v), 10))
	}
	return b.String()
}

// compare orders OIDs lexicographically by sub-identifier, the order of
// GETNEXT (RFC 3416 §4.2.2).
func (o oid) compare(p oid) int { return slices.Compare(o, p) }

// hasPrefix reports whether p is a prefix of o (or equal to it).
func (o oid) hasPrefix(p oid) bool {
	return len(p) <= len(o) && slices.Equal(o[:len(p)], p)
}
