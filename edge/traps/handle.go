package traps

import (
	"crypto/subtle"
	"fmt"
	"math"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/gosnmp/gosnmp"
)

// USM statistics OIDs carried by Report PDUs (RFC 3414 section 5,
// SNMP-USER-BASED-SM-MIB).
const (
	oidUsmStatsNotInTimeWindows = ".1.3.6.1.6.3.15.1.1.2.0"
	oidUsmStatsUnknownEngineIDs = ".1.3.6.1.6.3.15.1.1.4.0"
)

// timeWindow is the accepted difference, in seconds, between a message's
// engine time and the authoritative engine's (RFC 3414 3.2.7a).
const timeWindow = 150

// handle processes one datagram from peer read at at, queues the event it
// carries, and returns the reply to send (an INFORM's Response or a
// Report), or nil.
func (r *Receiver) handle(msg []byte, peer netip.AddrPort, at time.Time) (reply []byte) {
	r.stats.received.Add(1)
	defer func() {
		// gosnmp decodes bytes from anyone on the network; a decoder bug must
		// cost one message, not the receiver.
		if p := recover(); p != nil {
			reply = nil
			r.reject(at, &r.stats.malformed, peer, "traps: message crashed the decoder", "panic", fmt.Sprint(p))
		}
	}()
	// The v3 header decoder also fully decodes v1 and v2c messages, which
	// carry no security parameters.
	pkt, err := r.peek.SnmpDecodePacket(msg)
	if pkt == nil {
		r.reject(at, &r.stats.malformed, peer, "traps: undecodable message", "err", err)
		return nil
	}
	switch pkt.Version {
	case gosnmp.Version1, gosnmp.Version2c:
		if err != nil {
			r.reject(at, &r.stats.malformed, peer, "traps: undecodable message", "err", err)
			return nil
		}
		return r.handleCommunity(pkt, peer, at)
	case gosnmp.Version3:
		return r.handleUSM(msg, pkt, err, peer, at)
	}
	r.reject(at, &r.stats.malformed, peer, "traps: unsupported SNMP version", "version", int(pkt.Version))
	return nil
}

func (r *Receiver) handleCommunity(pkt *gosnmp.SnmpPacket, peer netip.AddrPort, at time.Time) []byte {
	if !r.communityOK(pkt.Community) {
		// The community itself is not logged: it may be a mistyped secret.
		r.reject(at, &r.stats.badCommunity, peer, "traps: unknown community", "version", pkt.Version.String())
		return nil
	}
	switch {
	case pkt.Version == gosnmp.Version1 && pkt.PDUType == gosnmp.Trap:
	case pkt.Version == gosnmp.Version2c && (pkt.PDUType == gosnmp.SNMPv2Trap || pkt.PDUType == gosnmp.InformRequest):
	default:
		r.reject(at, &r.stats.malformed, peer, "traps: not a notification", "version", pkt.Version.String(), "pdu", pkt.PDUType.String())
		return nil
	}
	return r.notify(pkt, peer, at, nil)
}

func (r *Receiver) communityOK(c string) bool {
	got, ok := []byte(c), 0
	for _, want := range r.communities {
		ok |= subtle.ConstantTimeCompare(got, want)
	}
	return ok == 1
}

// handleUSM processes a v3 message whose header hdr was read without
// credentials; hdrErr is the error that reading returned, expected for any
// authenticated message.
func (r *Receiver) handleUSM(msg []byte, hdr *gosnmp.SnmpPacket, hdrErr error, peer netip.AddrPort, at time.Time) []byte {
	usm, _ := hdr.SecurityParameters.(*gosnmp.UsmSecurityParameters)
	if usm == nil || hdr.SecurityModel != gosnmp.UserSecurityModel || usm.UserName == peekUser {
		r.reject(at, &r.stats.malformed, peer, "traps: undecodable SNMPv3 header", "err", hdrErr)
		return nil
	}
	engine, user := usm.AuthoritativeEngineID, usm.UserName
	reportable := hdr.MsgFlags&gosnmp.Reportable != 0

	if engine == "" && reportable && hdr.MsgFlags&gosnmp.AuthPriv == gosnmp.NoAuthNoPriv {
		// Engine ID discovery (RFC 3414 section 4): report ours.
		r.stats.discovery.Add(1)
		r.log.Debug("traps: engine ID discovery", "peer", peer.String())
		return r.report(hdr, oidUsmStatsUnknownEngineIDs, r.stats.discovery.Load()+r.stats.unknownEngineID.Load(),
			r.noAuthParams(user, at), gosnmp.NoAuthNoPriv)
	}
	local := engine == r.engineID
	if !local && !r.engines[engine] {
		r.reject(at, &r.stats.unknownEngineID, peer, "traps: unknown SNMPv3 engine ID", "engine_id", fmt.Sprintf("%x", engine), "user", user)
		if reportable {
			return r.report(hdr, oidUsmStatsUnknownEngineIDs, r.stats.discovery.Load()+r.stats.unknownEngineID.Load(),
				r.noAuthParams(user, at), gosnmp.NoAuthNoPriv)
		}
		return nil
	}
	cred := r.creds[credKey{engine, user}]
	if cred == nil {
		r.reject(at, &r.stats.unknownUser, peer, "traps: unknown SNMPv3 user", "engine_id", fmt.Sprintf("%x", engine), "user", user)
		return nil
	}
	level := hdr.MsgFlags & gosnmp.AuthPriv
	// RFC 3412 7.2 step 5: privFlag without authFlag is an invalid message.
	if level == gosnmp.AuthPriv&^gosnmp.AuthNoPriv || level < cred.level {
		r.reject(at, &r.stats.authFailure, peer, "traps: SNMPv3 security level below the user's", "user", user, "level", level.String(), "want", cred.level.String())
		return nil
	}
	pkt, err := cred.snmp.UnmarshalTrap(msg, true)
	if err != nil {
		r.reject(at, &r.stats.authFailure, peer, "traps: SNMPv3 authentication or decryption failed", "user", user, "engine_id", fmt.Sprintf("%x", engine), "err", err)
		return nil
	}
	got, _ := pkt.SecurityParameters.(*gosnmp.UsmSecurityParameters)
	if got == nil || got.AuthoritativeEngineID != engine || got.UserName != user {
		r.reject(at, &r.stats.authFailure, peer, "traps: SNMPv3 security parameters changed while decoding", "user", user)
		return nil
	}
	if local && level&gosnmp.AuthNoPriv != 0 {
		if !r.inTimeWindow(got.AuthoritativeEngineBoots, got.AuthoritativeEngineTime, at) {
			if reportable && got.AuthoritativeEngineBoots == 0 && got.AuthoritativeEngineTime == 0 {
				// Time synchronization, the second step of discovery.
				r.stats.discovery.Add(1)
				r.log.Debug("traps: engine time discovery", "peer", peer.String(), "user", user)
			} else {
				r.reject(at, &r.stats.notInTimeWindow, peer, "traps: SNMPv3 message outside the time window", "user", user,
					"boots", got.AuthoritativeEngineBoots, "time", got.AuthoritativeEngineTime,
					"our_boots", r.engineBoots, "our_time", r.engineTime(at))
			}
			if !reportable {
				return nil
			}
			// RFC 3414 3.2.7a: the report is authenticated, so the sender can
			// trust the boots and time it carries.
			sp, err := cred.responseParams(r.engineID, r.engineBoots, r.engineTime(at), gosnmp.AuthNoPriv)
			if err != nil {
				r.log.Error("traps: build report", "err", err)
				return nil
			}
			return r.report(pkt, oidUsmStatsNotInTimeWindows, r.stats.notInTimeWindow.Load()+r.stats.discovery.Load(), sp, gosnmp.AuthNoPriv)
		}
	}
	if pkt.PDUType != gosnmp.SNMPv2Trap && pkt.PDUType != gosnmp.InformRequest {
		r.reject(at, &r.stats.malformed, peer, "traps: not a notification", "version", "3", "pdu", pkt.PDUType.String())
		return nil
	}
	return r.notify(pkt, peer, at, cred)
}

func (r *Receiver) engineTime(at time.Time) uint32 {
	d := at.Sub(r.start) / time.Second
	if d < 0 {
		return 0
	}
	return uint32(min(d, math.MaxInt32))
}

// inTimeWindow applies RFC 3414 3.2.7a for messages to the receiver's own
// engine.
func (r *Receiver) inTimeWindow(boots, engineTime uint32, at time.Time) bool {
	if r.engineBoots >= math.MaxInt32 || boots != r.engineBoots {
		return false
	}
	d := int64(engineTime) - int64(r.engineTime(at))
	return d >= -timeWindow && d <= timeWindow
}

func (r *Receiver) noAuthParams(user string, at time.Time) *gosnmp.UsmSecurityParameters {
	return &gosnmp.UsmSecurityParameters{
		AuthoritativeEngineID:    r.engineID,
		AuthoritativeEngineBoots: r.engineBoots,
		AuthoritativeEngineTime:  r.engineTime(at),
		UserName:                 user,
		AuthenticationProtocol:   gosnmp.NoAuth,
		PrivacyProtocol:          gosnmp.NoPriv,
	}
}

// report builds a Report PDU answering req (RFC 3412 7.1.3c).
func (r *Receiver) report(req *gosnmp.SnmpPacket, oid string, count uint64, sp *gosnmp.UsmSecurityParameters, flags gosnmp.SnmpV3MsgFlags) []byte {
	out := &gosnmp.SnmpPacket{
		Version:            gosnmp.Version3,
		MsgFlags:           flags,
		SecurityModel:      gosnmp.UserSecurityModel,
		SecurityParameters: sp,
		ContextEngineID:    r.engineID,
		ContextName:        req.ContextName,
		PDUType:            gosnmp.Report,
		MsgID:              req.MsgID,
		RequestID:          req.RequestID,
		Variables:          []gosnmp.SnmpPDU{{Name: oid, Type: gosnmp.Counter32, Value: uint32(count)}},
	}
	b, err := out.MarshalMsg()
	if err != nil {
		r.log.Error("traps: encode report", "err", err)
		return nil
	}
	return b
}

// notify turns an authenticated notification into an event and queues it.
func (r *Receiver) notify(pkt *gosnmp.SnmpPacket, peer netip.AddrPort, at time.Time, cred *credential) []byte {
	ev, err := parseNotification(pkt)
	if err != nil {
		r.reject(at, &r.stats.malformed, peer, "traps: malformed notification", "err", err)
		return nil
	}
	dev, ok := r.device(peer.Addr(), pkt, ev.Varbinds)
	if !ok {
		r.reject(at, &r.stats.unknownPeer, peer, "traps: notification from an address no target has", "trap_oid", ev.TrapOID)
		return nil
	}
	name, ok := r.names[ev.TrapOID]
	if !ok {
		r.stats.ignored.Add(1)
		r.log.Debug("traps: notification not configured", "peer", peer.String(), "trap_oid", ev.TrapOID)
		if ev.Inform {
			// Acknowledged all the same: it was received, and retransmissions
			// would not change the outcome.
			return r.ack(pkt, cred, at)
		}
		return nil
	}
	ev.At, ev.Peer, ev.Device, ev.Name = at, peer, dev, name
	if cred != nil {
		ev.User, ev.EngineID = cred.user, fmt.Sprintf("%x", cred.engineID)
	} else {
		ev.Community = pkt.Community
	}
	key := countKey{dev, name}
	ev.Count = r.counts[key] + 1
	select {
	case r.queue <- ev:
		r.counts[key] = ev.Count
		r.stats.accepted.Add(1)
	default:
		// Not acknowledged: the sender of an INFORM retries later.
		r.reject(at, &r.stats.dropped, peer, "traps: queue full, notification dropped", "trap", name, "device", dev)
		return nil
	}
	if ev.Inform {
		return r.ack(pkt, cred, at)
	}
	return nil
}

// device finds the target a notification comes from.
func (r *Receiver) device(src netip.Addr, pkt *gosnmp.SnmpPacket, vbs []Varbind) (string, bool) {
	if len(r.targets) == 0 {
		return "", true
	}
	if d, ok := r.targets[src]; ok {
		return d, true
	}
	// A switch may send from an interface other than the one it is polled
	// on; v1 carries its address in agent-addr and SNMPv2 senders may add
	// snmpTrapAddress.0 (RFC 3584 section 3.1).
	if pkt.PDUType == gosnmp.Trap {
		if a, err := netip.ParseAddr(pkt.AgentAddress); err == nil {
			if d, ok := r.targets[a.Unmap()]; ok {
				return d, true
			}
		}
	}
	for _, vb := range vbs {
		if vb.OID != oidSnmpTrapAddress || vb.Type != gosnmp.IPAddress {
			continue
		}
		if s, ok := vb.Value.(string); ok {
			if a, err := netip.ParseAddr(s); err == nil {
				if d, ok := r.targets[a.Unmap()]; ok {
					return d, true
				}
			}
		}
	}
	return "", false
}

// ack builds the Response to an INFORM (RFC 3416 4.2.7): same request-id,
// same variable bindings, no error.
func (r *Receiver) ack(req *gosnmp.SnmpPacket, cred *credential, at time.Time) []byte {
	out := &gosnmp.SnmpPacket{
		Version:   req.Version,
		Community: req.Community,
		PDUType:   gosnmp.GetResponse,
		RequestID: req.RequestID,
		Variables: req.Variables,
	}
	if req.Version == gosnmp.Version3 {
		usm := req.SecurityParameters.(*gosnmp.UsmSecurityParameters)
		// A Response comes from the authoritative engine, the receiver when
		// the request was sent to its engine ID (RFC 3414 3.1.1).
		engine, boots, t := usm.AuthoritativeEngineID, usm.AuthoritativeEngineBoots, usm.AuthoritativeEngineTime
		if engine == r.engineID {
			boots, t = r.engineBoots, r.engineTime(at)
		}
		flags := req.MsgFlags & gosnmp.AuthPriv
		sp, err := cred.responseParams(engine, boots, t, flags)
		if err != nil {
			r.log.Error("traps: build INFORM response", "err", err)
			return nil
		}
		out.MsgFlags = flags
		out.SecurityModel = gosnmp.UserSecurityModel
		out.SecurityParameters = sp
		out.MsgID = req.MsgID
		out.ContextEngineID = req.ContextEngineID
		out.ContextName = req.ContextName
	}
	b, err := out.MarshalMsg()
	if err != nil {
		// A value gosnmp decodes but cannot encode again: the request-id is
		// what the sender matches, so answer without the bindings.
		out.Variables = nil
		if b, err = out.MarshalMsg(); err != nil {
			r.log.Error("traps: encode INFORM response", "err", err)
			return nil
		}
	}
	r.stats.informsAcked.Add(1)
	return b
}

// reject counts a message in c and logs msg, rate-limited, with the peer.
func (r *Receiver) reject(at time.Time, c *atomic.Uint64, peer netip.AddrPort, msg string, args ...any) {
	c.Add(1)
	ok, suppressed := r.limiter.allow(at)
	if !ok {
		return
	}
	attrs := make([]any, 0, len(args)+4)
	attrs = append(attrs, "peer", peer.String())
	attrs = append(attrs, args...)
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	r.log.Warn(msg, attrs...)
}
