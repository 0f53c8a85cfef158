package snmppoll

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/gosnmp/gosnmp"
)

// detect returns the profiles whose Match section fits the agent, from the
// sysObjectID and sysDescr of the last readScalars and one GETNEXT (or
// GETBULK of one repetition) of every Exists OID of the profiles that did
// not match by identity.
func (p *Poller) detect(ctx context.Context) ([]*compiledProfile, error) {
	var out []*compiledProfile
	var probes []cursor
	var owner []*compiledProfile
	for _, cp := range p.set.profiles {
		if slices.Contains(p.fixed, cp) {
			continue
		}
		m := &cp.match
		if p.identifies(m) {
			out = append(out, cp)
			continue
		}
		for _, oid := range m.exists {
			probes = append(probes, cursor{root: oid, prefix: oid + "."})
			owner = append(owner, cp)
		}
	}
	if len(probes) == 0 {
		return out, nil
	}
	found := make([]bool, len(probes))
	err := p.req.walk(ctx, probes, 1, func(i int, _ *gosnmp.SnmpPDU) bool {
		found[i] = true
		return false
	})
	if err != nil {
		return nil, fmt.Errorf("snmppoll: %s: detect profiles: %w", p.target, p.explain(err))
	}
	for i, ok := range found {
		if ok && (len(out) == 0 || out[len(out)-1] != owner[i]) {
			out = append(out, owner[i])
		}
	}
	return out, nil
}

// identifies reports whether the agent's sysObjectID or sysDescr matches.
func (p *Poller) identifies(m *compiledMatch) bool {
	for _, prefix := range m.sysObjectID {
		if id := dotted(p.sysObjectID); id == prefix || strings.HasPrefix(id, prefix+".") {
			return true
		}
	}
	for _, re := range m.sysDescr {
		if re.Match(p.sysDescr) {
			return true
		}
	}
	return false
}
