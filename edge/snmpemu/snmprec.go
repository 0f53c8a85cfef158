package snmpemu

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/gosnmp/gosnmp"
)

// LoadSnmprec adds the instances of a LibreNMS/snmpsim recording to the
// table and returns how many it read. Lines are "OID|tag|value", the tag
// the decimal BER type (2 Integer32, 4 OctetString, 6 OID, 64 IpAddress,
// 65 Counter32, 66 Gauge32, 67 TimeTicks, 68 Opaque, 70 Counter64) with an
// "x" suffix for a hex-encoded value; a variation module tag ("65:numeric")
// takes the value of its "value=" parameter. Lines may come in any order.
// Null values (tag 5) carry no data and are skipped. A malformed line fails
// the load, naming its number, and leaves the table unchanged.
func (t *Table) LoadSnmprec(r io.Reader) (int, error) {
	var add []*entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		oidText, rest, ok1 := strings.Cut(line, "|")
		tag, val, ok2 := strings.Cut(rest, "|")
		if !ok1 || !ok2 {
			return 0, fmt.Errorf("snmpemu: snmprec line %d: want OID|tag|value", n)
		}
		o, err := parseOID(oidText)
		if err != nil {
			return 0, fmt.Errorf("snmpemu: snmprec line %d: %w", n, err)
		}
		if base, params, ok := strings.Cut(tag, ":"); ok {
			tag = base
			found := false
			for _, kv := range strings.Split(val, ",") {
				if v, ok := strings.CutPrefix(kv, "value="); ok {
					val, found = v, true
				}
			}
			if !found {
				return 0, fmt.Errorf("snmpemu: snmprec line %d: variation %q without value=", n, params)
			}
		}
		v, skip, err := snmprecValue(tag, val)
		if err != nil {
			return 0, fmt.Errorf("snmpemu: snmprec line %d: %w", n, err)
		}
		if skip {
			continue
		}
		e := &entry{oid: o, name: o.String(), objLen: len(o) - 1, val: v}
		switch x := v.V.(type) {
		case uint32:
			e.base = uint64(x)
		case uint64:
			e.base = x
		}
		add = append(add, e)
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("snmpemu: snmprec: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	// Later lines win over earlier ones and over what the table had.
	all := append(add, t.entries...)
	slices.SortStableFunc(all, func(a, b *entry) int { return a.oid.compare(b.oid) })
	t.entries = slices.CompactFunc(all, func(a, b *entry) bool { return a.oid.compare(b.oid) == 0 })
	return len(add), nil
}

func snmprecValue(tag, val string) (v Value, skip bool, err error) {
	t, hexed := strings.CutSuffix(tag, "x")
	if hexed {
		b, err := hex.DecodeString(val)
		if err != nil {
			return Value{}, false, fmt.Errorf("hex value: %w", err)
		}
		tag, val = t, string(b)
	}
	n, err := strconv.Atoi(tag)
	if err != nil {
		return Value{}, false, fmt.Errorf("tag %q", tag)
	}
	switch gosnmp.Asn1BER(n) {
	case gosnmp.Null:
		return Value{}, true, nil
	case gosnmp.Integer:
		i, err := strconv.ParseInt(val, 10, 32)
		if err != nil {
			return Value{}, false, fmt.Errorf("integer: %w", err)
		}
		return Integer(int(i)), false, nil
	case gosnmp.OctetString:
		return OctetString(val), false, nil
	case gosnmp.Opaque:
		return Value{gosnmp.Opaque, []byte(val)}, false, nil
	case gosnmp.ObjectIdentifier:
		if _, err := parseOID(val); err != nil {
			return Value{}, false, err
		}
		return ObjectIdentifier(val), false, nil
	case gosnmp.IPAddress:
		if hexed && len(val) == 4 {
			return IPAddress(netip.AddrFrom4([4]byte([]byte(val))).String()), false, nil
		}
		a, err := netip.ParseAddr(val)
		if err != nil || !a.Is4() {
			return Value{}, false, fmt.Errorf("IpAddress %q", val)
		}
		return IPAddress(a.String()), false, nil
	case gosnmp.Counter32, gosnmp.Gauge32, gosnmp.TimeTicks:
		u, err := strconv.ParseUint(val, 10, 32)
		if err != nil {
			return Value{}, false, fmt.Errorf("unsigned: %w", err)
		}
		return Value{gosnmp.Asn1BER(n), uint32(u)}, false, nil
	case gosnmp.Counter64:
		u, err := strconv.ParseUint(val, 10, 64)
		if err != nil {
			return Value{}, false, fmt.Errorf("counter64: %w", err)
		}
		return Counter64(u), false, nil
	}
	return Value{}, false, fmt.Errorf("unsupported tag %d", n)
}
