// Package command applies the collector's desired-state commands on the
// edge: fan duty overrides, enabling and disabling sources, changing a
// source's poll period, and the load-balancer state an API node reports to
// HAProxy. Commands arrive as Sparkplug B NCMD (node) or DCMD (device)
// messages; the publisher that owns the MQTT connection hands their
// payloads to a Manager, which decides whether each command is new, a
// resend, stale or expired, and puts new ones into effect through the
// Applier registered for its kind.
//
// # Wire format
//
// A command is one metric of an NCMD or DCMD payload (Sparkplug B 3.0,
// spec §6.4.20): name "rackwatch/command", datatype String (12), whose
// string_value is one JSON object, at most 1024 bytes:
//
//	{"id":"c-7f3a","version":12,"kind":"fan_duty","device":"fans",
//	 "channel":3,"duty":0.8,"expires":1795694400000,"issued":1795694340000}
//
// A payload may carry several command metrics (at most MaxPerPayload); the
// metric "Node Control/Rebirth" may sit beside them and is left to the
// publisher; other metrics are ignored. A DCMD's commands must name the
// topic's device.
//
// Fields, all lower case; a key the kind does not use, a key given twice,
// a missing required key, a value of the wrong JSON type or out of range
// refuses the command with a reason (see Reason):
//
//	id       string, required, 1–64 printable ASCII characters, no space.
//	         A resend with an id already applied to the same target is
//	         answered Duplicate and does nothing.
//	version  integer 0–2^64-1, required: the version of the target's
//	         desired state. Lower than the target's current version, or
//	         equal to it with another id, is Stale.
//	kind     "fan_duty" | "sensor_enable" | "poll_period" | "lb_state".
//	device   string, required, 1–64 bytes of UTF-8 without control
//	         characters, '/', '+' or '#' (a Sparkplug device ID): the
//	         source, fan controller or load-balancer responder addressed.
//	expires  integer, ms since the Unix epoch: when the override ends and
//	         the target returns to the state in force before it. Required
//	         for fan_duty, optional otherwise. A command received at or
//	         after expires is Expired.
//	issued   integer, ms since the Unix epoch, optional, informative; if
//	         both are given, issued must not be after expires. Required
//	         in a signed command.
//
// A signed command also carries, all four or none (Signature):
//
//	key_id       the signing key's id, 1–32 printable ASCII characters.
//	counter      integer 1–2^64-1, growing with each command the key signs.
//	valid_until  integer, ms since the Unix epoch: when the command stops
//	             being acceptable (it ends nothing that was applied).
//	sig          the Ed25519 signature, base64url without padding.
//
// This package only decodes them; the Manager's Verifier (package
// edge/cmdsign) decides whether they are right, before anything else, and
// its refusals (ReasonUnsigned, ReasonForged, ReasonExpired,
// ReasonReplayed) are counted like the others.
//
// Per kind:
//
//	fan_duty       channel 1–6 (MAX31790 PWMOUT1–6), duty 0–1 (a ratio).
//	               At expiry the duty the channel had before the override
//	               is restored.
//	sensor_enable  enabled (bool): a disabled source stops reading.
//	poll_period    period: a Go duration string ("5s"), 100ms–1h.
//	lb_state       state "ready" | "drain" | "maint" | "weight", and
//	               weight_percent 0–100 (optional, default 100; required
//	               for "weight", which is ready with that weight).
//
// The target of a command, whose version it carries, is its kind, device
// and, for fan_duty, channel (see Target).
//
// # Idempotence and persistence
//
// The Manager remembers, per target, the current version and id and the
// last MaxIDs ids applied, and writes them to a state file (atomically,
// with fsync) after every change, so that neither a resend nor a restart
// lets an old command through. An override that is active when the edge
// restarts is applied again by Restore, because sources and the agent-check
// responder start from their configuration.
//
// The state before the first override of a target (the prior) is read by
// the applier and kept, persisted, until the override ends, so a chain of
// overrides (v12 then v13 before v12 expires) restores what was in force
// before v12, not v12's value.
//
// # Running it
//
// The owner builds a Manager with one Applier per supported kind (FanDuty
// for MAX31790 controllers, the agent-check responder for lb_state, its
// sources for sensor_enable and poll_period), runs Manager.Run under its
// errgroup (or calls Restore once, then Tick periodically), and passes
// every message received on spBv1.0/<group>/NCMD/<edge> and
// spBv1.0/<group>/DCMD/<edge>/+ to HandleMessage, from a goroutine that may
// block for as long as an applier takes. State and Counters are for
// publication.
package command
