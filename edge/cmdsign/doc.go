// Package cmdsign signs the collector's commands and verifies them on the
// edge, so that only the holder of the collector's private key can drain,
// shed or restore a node, or override a fan, through MQTT: the broker's
// ACL stops unauthorised publishers, and a signature stops whatever gets
// past it (a leaked password, a misconfigured ACL, a compromised broker).
//
// The collector's Signer fills in a command's Signature: key id, a counter
// that grows with every command the key signs, a validity end, and an
// Ed25519 signature (RFC 8032) over Canonical, which binds the command to
// the group and edge node it is for. On the edge, the command.Manager
// hands every command to a Verifier before applying it; Verify refuses a
// command as unsigned, forged, expired or replayed (command.Reason), and
// records the counter of each command it accepts in the edge's state
// directory before the command takes effect, so a replay after a restart
// is refused too. The format is in docs/wire.md (Command signatures); the
// threat model and key rotation in docs/security.md.
package cmdsign
