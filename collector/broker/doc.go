// Package broker is the MQTT broker the collector embeds when its
// configuration names no external one, so that a single machine runs
// rackwatch with nothing else installed.
//
// It is mochi-mqtt's server on one TCP listener. The collector and the
// edges reach it through the same client code as an external broker: it
// speaks MQTT 3.1.1 and 5 with QoS 1, retained messages and wills, which is
// all that Sparkplug B needs (NDEATH as the will, the primary host's STATE
// retained, data at QoS 1).
//
// It authenticates nobody, so it listens on loopback only. Edges on other
// machines need an external broker with TLS, passwords and ACLs, such as
// Mosquitto configured as in deploy/mosquitto.
package broker
