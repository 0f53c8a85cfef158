// Package config defines the edge's configuration file: which MQTT broker
// and Sparkplug identity to use, which I2C sensors to read and which SNMP
// targets to poll. Loading is strict (see package configfile); every
// default lives in Default and every rule in Validate.
package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/rackwatch/rackwatch/drivers/chips"
	"github.com/rackwatch/rackwatch/edge/configfile"
	"github.com/rackwatch/rackwatch/edge/snmppoll"
	"github.com/rackwatch/rackwatch/edge/sparkplug"
	"github.com/rackwatch/rackwatch/edge/traps"
)

// Versions lists the configuration format versions this binary reads.
var Versions = []int{1}

// Config is the edge configuration.
type Config struct {
	Version int      `yaml:"version"`
	Edge    Edge     `yaml:"edge"`
	MQTT    MQTT     `yaml:"mqtt"`
	I2C     []I2CBus `yaml:"i2c"`
	SNMP    []SNMP   `yaml:"snmp"`
	// SNMPProfiles lists directories of profile YAML files that add to or
	// replace the built-in device profiles by name.
	SNMPProfiles []string  `yaml:"snmp_profiles"`
	Host         Host      `yaml:"host"`
	Traps        Traps     `yaml:"traps"`
	Spool        Spool     `yaml:"spool"`
	Sources      Sources   `yaml:"sources"`
	Log          LogConfig `yaml:"log"`
	Metrics      Metrics   `yaml:"metrics"`
	// SNMPSecurity is the production rule for SNMP: v3 only unless
	// community-based SNMP is allowed.
	SNMPSecurity SNMPSecurity `yaml:"snmp_security"`
	// Commands says how the collector's commands are authenticated.
	Commands Commands `yaml:"commands"`

	file *configfile.File
}

// SNMPSecurity refuses SNMP v1 and v2c, whose communities cross the
// network in clear and authenticate nothing, unless they are allowed: for
// all targets and the trap receiver here, or per target
// (snmp[].allow_community) and for the receiver (traps.allow_community).
// SNMPv3 with authPriv is what a production rack should use.
type SNMPSecurity struct {
	AllowCommunity bool `yaml:"allow_community"`
}

// Warnings returns what the loaded file holds that is accepted but should
// change, such as inline secrets, each as file:line: key: message.
func (c *Config) Warnings() []string { return c.file.Warnings() }

// Metrics configures the Prometheus endpoint (docs/metrics.md).
type Metrics struct {
	// Listen is the TCP address serving /metrics, such as
	// "0.0.0.0:9471"; empty (the default) opens no port.
	Listen string `yaml:"listen"`
}

// StatusDevice is the Sparkplug device under which the edge publishes its
// own health; no configured source may take its name.
const StatusDevice = "edge"

// Sources bounds how the sources are collected. Each collect is cancelled
// at its source's period, its deadline.
type Sources struct {
	// MaxConcurrent bounds the collects running at once across all
	// sources: a slow or dead target holds one slot, never more.
	MaxConcurrent int `yaml:"max_concurrent"`
	// BreakerFailures is the number of consecutive collects that
	// delivered nothing after which a source's circuit breaker opens: its
	// collects are skipped but for one probe per backoff, which starts at
	// two periods and doubles up to BreakerBackoffMax.
	BreakerFailures   int           `yaml:"breaker_failures"`
	BreakerBackoffMax time.Duration `yaml:"breaker_backoff_max"`
}

// Edge names the edge node in the Sparkplug namespace.
type Edge struct {
	// Group is the Sparkplug group: the site.
	Group string `yaml:"group"`
	// Node is the Sparkplug edge node ID: this rack controller.
	Node string `yaml:"node"`
	// StateDir holds the persisted sample sequence.
	StateDir string `yaml:"state_dir"`
}

// MQTT configures the broker connection.
type MQTT struct {
	Broker   string `yaml:"broker"`
	ClientID string `yaml:"client_id"`
	// Username and Password log in to a broker that refuses anonymous
	// clients; with a per-rack ACL the username is the edge's node ID
	// (deploy/mosquitto/acl.example).
	Username string            `yaml:"username"`
	Password configfile.Secret `yaml:"password"`
	// PasswordFile holds the password instead (mode 0600 or 0640, see
	// configfile.OpenSecretFile).
	PasswordFile string `yaml:"password_file"`
	// CAFile is a PEM bundle of the CAs that sign the broker's certificate,
	// for an ssl://, tls:// or wss:// broker; empty uses the system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the edge's PEM client certificate and key
	// for a broker that requires mutual TLS (Mosquitto's
	// require_certificate); the key file must be mode 0600 or 0640.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// PrimaryHost is the collector's Sparkplug host ID. The edge publishes
	// only while that host's STATE is online and queues otherwise; empty
	// publishes regardless (for plain MQTT consumers).
	PrimaryHost    string        `yaml:"primary_host"`
	QoS            *byte         `yaml:"qos"`
	Strict         bool          `yaml:"strict_sparkplug"`
	KeepAlive      time.Duration `yaml:"keepalive"`
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	BackoffMax     time.Duration `yaml:"backoff_max"`
}

// TLS returns the files of the broker connection's TLS settings.
func (m *MQTT) TLS() configfile.ClientTLS {
	return configfile.ClientTLS{CAFile: m.CAFile, CertFile: m.CertFile, KeyFile: m.KeyFile}
}

// I2CBus is one I2C bus and the sensors on it.
type I2CBus struct {
	// Bus is a periph bus name ("1", "/dev/i2c-1") or "emulated" for the
	// built-in emulated bus, which answers like real chips.
	Bus     string      `yaml:"bus"`
	Sensors []I2CSensor `yaml:"sensors"`
}

// I2CSensor is one sensor chip; it is published as a Sparkplug device named
// Name.
type I2CSensor struct {
	Name    string        `yaml:"name"`
	Chip    string        `yaml:"chip"`
	Address uint16        `yaml:"address"`
	Period  time.Duration `yaml:"period"`
	// Extended selects the TMP102's 13-bit mode (to 150 °C).
	Extended bool `yaml:"extended"`
	// Precision is the SHT3x/SHT4x measurement precision: high, medium or low.
	Precision string `yaml:"precision"`
	// Fans lists the MAX31790 channels that have a fan (all six when empty).
	Fans []Fan `yaml:"fans"`
	// Resolution is the MCP9808 resolution in °C: 0.5, 0.25, 0.125 or 0.0625.
	Resolution string `yaml:"resolution"`
	// ShuntOhms (required) and MaxAmps (0: the shunt's full range) calibrate
	// an INA219/INA226; Averages is its number of samples averaged.
	ShuntOhms float64 `yaml:"shunt_ohms"`
	MaxAmps   float64 `yaml:"max_amps"`
	Averages  int     `yaml:"averages"`
	// Oversampling is the BME280 oversampling: 1, 2, 4, 8 or 16.
	Oversampling int `yaml:"oversampling"`
}

// Fan is one MAX31790 fan channel.
type Fan struct {
	Channel      int `yaml:"channel"`
	SpeedRange   int `yaml:"speed_range"`
	PulsesPerRev int `yaml:"pulses_per_rev"`
}

// options lists the chip options the sensor sets.
func (s *I2CSensor) options() []string {
	var o []string
	if s.Extended {
		o = append(o, chips.OptExtended)
	}
	if s.Precision != "" {
		o = append(o, chips.OptPrecision)
	}
	if len(s.Fans) > 0 {
		o = append(o, chips.OptFans)
	}
	if s.Resolution != "" {
		o = append(o, chips.OptResolution)
	}
	if s.ShuntOhms != 0 {
		o = append(o, chips.OptShuntOhms)
	}
	if s.MaxAmps != 0 {
		o = append(o, chips.OptMaxAmps)
	}
	if s.Averages != 0 {
		o = append(o, chips.OptAverages)
	}
	if s.Oversampling != 0 {
		o = append(o, chips.OptOversampling)
	}
	return o
}

// Params returns the chip options for the driver.
func (s *I2CSensor) Params() chips.Params {
	p := chips.Params{Extended: s.Extended, Precision: s.Precision, Resolution: s.Resolution,
		ShuntOhms: s.ShuntOhms, MaxAmps: s.MaxAmps, Averages: s.Averages, Oversampling: s.Oversampling}
	for _, f := range s.Fans {
		p.Fans = append(p.Fans, chips.Fan{Channel: f.Channel, SpeedRange: f.SpeedRange, PulsesPerRev: f.PulsesPerRev})
	}
	return p
}

// SNMP is one SNMP target; it is published as a Sparkplug device named Name.
type SNMP struct {
	Name      string            `yaml:"name"`
	Address   string            `yaml:"address"`
	Version   string            `yaml:"version"`
	Community configfile.Secret `yaml:"community"`
	// AllowCommunity allows version 1 or 2c for this target when
	// snmp_security.allow_community is false.
	AllowCommunity bool `yaml:"allow_community"`
	// SNMPv3 (version "3"): the USM user, its protocols and passphrases,
	// and the context. The security level follows from what is set.
	User           string            `yaml:"user"`
	AuthProtocol   string            `yaml:"auth_protocol"`
	AuthPassphrase configfile.Secret `yaml:"auth_passphrase"`
	PrivProtocol   string            `yaml:"priv_protocol"`
	PrivPassphrase configfile.Secret `yaml:"priv_passphrase"`
	ContextName    string            `yaml:"context"`
	// The *_file keys name files that hold the secrets instead.
	CommunityFile      string `yaml:"community_file"`
	AuthPassphraseFile string `yaml:"auth_passphrase_file"`
	PrivPassphraseFile string `yaml:"priv_passphrase_file"`
	// Profiles names the device profiles to poll; empty means "auto":
	// detected from sysObjectID and sysDescr.
	Profiles       []string      `yaml:"profiles"`
	Period         time.Duration `yaml:"period"`
	Timeout        time.Duration `yaml:"timeout"`
	Retries        int           `yaml:"retries"`
	MaxRepetitions uint32        `yaml:"max_repetitions"`
}

// Traps configures the SNMP notification receiver: switches report link
// flaps at once instead of at the next poll. A notification is published
// under the SNMP target whose address sent it.
type Traps struct {
	// Listen is the UDP address, such as "0.0.0.0:162"; empty turns the
	// receiver off.
	Listen      string              `yaml:"listen"`
	Communities []configfile.Secret `yaml:"communities"`
	// CommunityFiles name files that each hold one more community.
	CommunityFiles []string `yaml:"community_files"`
	// AllowCommunity allows v1 and v2c notifications when
	// snmp_security.allow_community is false.
	AllowCommunity bool       `yaml:"allow_community"`
	Users          []TrapUser `yaml:"users"`
	// EngineID is the receiver's own SNMPv3 engine ID (hex), which v3
	// INFORM senders discover; empty picks one at start.
	EngineID string `yaml:"engine_id"`
	// Notifications are trap OIDs to accept besides linkDown and linkUp.
	Notifications []Notification `yaml:"notifications"`
}

// TrapUser is an SNMPv3 user allowed to send notifications.
type TrapUser struct {
	Name string `yaml:"name"`
	// EngineID is the sender's engine ID for traps; empty for INFORMs,
	// which use the receiver's.
	EngineID       string            `yaml:"engine_id"`
	AuthProtocol   string            `yaml:"auth_protocol"`
	AuthPassphrase configfile.Secret `yaml:"auth_passphrase"`
	PrivProtocol   string            `yaml:"priv_protocol"`
	PrivPassphrase configfile.Secret `yaml:"priv_passphrase"`
	// The *_file keys name files that hold the passphrases instead.
	AuthPassphraseFile string `yaml:"auth_passphrase_file"`
	PrivPassphraseFile string `yaml:"priv_passphrase_file"`
}

// Notification names a trap OID.
type Notification struct {
	OID  string `yaml:"oid"`
	Name string `yaml:"name"`
}

// TrapOpts returns the receiver options, without the targets and handler
// the edge adds.
func (t *Traps) TrapOpts() *traps.Opts {
	o := &traps.Opts{Addr: t.Listen, EngineID: t.EngineID}
	for _, c := range t.Communities {
		o.Communities = append(o.Communities, string(c))
	}
	for _, u := range t.Users {
		o.Users = append(o.Users, traps.User{Name: u.Name, EngineID: u.EngineID, Auth: u.AuthProtocol,
			AuthPassphrase: string(u.AuthPassphrase), Priv: u.PrivProtocol, PrivPassphrase: string(u.PrivPassphrase)})
	}
	for _, n := range t.Notifications {
		o.OIDs = append(o.OIDs, traps.Notification{OID: n.OID, Name: n.Name})
	}
	return o
}

// Spool configures the on-disk queue (under edge.state_dir/spool) that
// keeps samples while the broker or the collector is away.
type Spool struct {
	// MaxMB bounds it; beyond, the oldest samples are dropped and counted.
	MaxMB int `yaml:"max_mb"`
	// FlushInterval is how often queued samples are synced to the flash:
	// the bound on what a power cut can lose. A crash of the process loses
	// nothing written, which happens within 200ms.
	FlushInterval time.Duration `yaml:"flush_interval"`
}

// Host configures host mode, for an edge that runs on an API node itself.
type Host struct {
	Enabled bool `yaml:"enabled"`
	// Device is the Sparkplug device name of the host's signals.
	Device string `yaml:"device"`
	// Root is the filesystem root the readers start from.
	Root   string        `yaml:"root"`
	Period time.Duration `yaml:"period"`
	// Kmsg follows /dev/kmsg for SYN floods, socket memory and NIC link
	// messages.
	Kmsg bool `yaml:"kmsg"`
	// AgentCheck is the address of the HAProxy agent-check responder
	// ("0.0.0.0:5555"), whose answer the collector sets with lb_state
	// commands; empty turns it off.
	AgentCheck string `yaml:"agent_check"`
}

// LogConfig sets the log level: debug, info, warn or error.
type LogConfig struct {
	Level string `yaml:"level"`
}

// Default returns the configuration that the file's keys override.
func Default() Config {
	qos := byte(1)
	return Config{
		Edge: Edge{Group: "site1", StateDir: "/var/lib/rackwatch"},
		MQTT: MQTT{Broker: "tcp://127.0.0.1:1883", PrimaryHost: "rackwatch-collector", QoS: &qos, KeepAlive: 30 * time.Second,
			ConnectTimeout: 10 * time.Second, BackoffMax: 30 * time.Second},
		Spool:   Spool{MaxMB: 64, FlushInterval: time.Second},
		Sources: Sources{MaxConcurrent: 16, BreakerFailures: 3, BreakerBackoffMax: 5 * time.Minute},
		Host:    Host{Device: "host", Root: "/", Period: 10 * time.Second, Kmsg: true},
		Log:     LogConfig{Level: "info"},
	}
}

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	c := Default()
	f, err := configfile.Load(path, Versions, &c)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(f); err != nil {
		return nil, err
	}
	c.file = f
	return &c, nil
}

// Validate fills per-item defaults and checks every rule, reporting each
// problem with its file, line and key.
func (c *Config) Validate(f *configfile.File) error {
	var errs configfile.Errors
	if err := sparkplug.ValidateID(c.Edge.Group); err != nil {
		errs.Add(f.Errorf("edge.group", "%v", err))
	}
	if err := sparkplug.ValidateID(c.Edge.Node); err != nil {
		errs.Add(f.Errorf("edge.node", "%v (set it to this rack controller's name)", err))
	}
	if c.Edge.StateDir == "" {
		errs.Add(f.Errorf("edge.state_dir", "required"))
	}
	if u, err := url.Parse(c.MQTT.Broker); err != nil || !slices.Contains([]string{"tcp", "mqtt", "ssl", "tls", "ws", "wss"}, u.Scheme) || u.Host == "" {
		errs.Add(f.Errorf("mqtt.broker", "%q is not a broker URL such as tcp://broker:1883", c.MQTT.Broker))
	}
	f.CheckClientTLS(&errs, "mqtt.", c.MQTT.TLS(), c.MQTT.Broker)
	if c.MQTT.Username != "" && c.MQTT.Username != c.Edge.Node {
		// Not an error, since other ACL layouts exist; but under the
		// shipped one an MQTT 3.1.1 broker acknowledges the publishes it
		// denies, so the edge would empty its spool into nothing.
		f.Warnf("mqtt.username", "%q is not edge.node %q: under the per-rack ACL of deploy/mosquitto/acl.example the broker acknowledges and drops every sample of this edge", c.MQTT.Username, c.Edge.Node)
	}
	f.ResolveSecret(&errs, "mqtt.password", &c.MQTT.Password, "mqtt.password_file", c.MQTT.PasswordFile)
	if c.MQTT.PrimaryHost != "" {
		if err := sparkplug.ValidateID(c.MQTT.PrimaryHost); err != nil {
			errs.Add(f.Errorf("mqtt.primary_host", "%v", err))
		}
	}
	if c.MQTT.QoS == nil || *c.MQTT.QoS > 1 {
		errs.Add(f.Errorf("mqtt.qos", "must be 0 or 1"))
	}
	if c.MQTT.ClientID == "" {
		c.MQTT.ClientID = "rackwatch-edge-" + c.Edge.Node
	}
	if c.Spool.MaxMB < 1 {
		errs.Add(f.Errorf("spool.max_mb", "must be at least 1"))
	}
	if c.Spool.FlushInterval < 10*time.Millisecond {
		errs.Add(f.Errorf("spool.flush_interval", "must be at least 10ms"))
	}
	if c.MQTT.KeepAlive < time.Second || c.MQTT.ConnectTimeout <= 0 || c.MQTT.BackoffMax <= 0 {
		errs.Add(f.Errorf("mqtt", "keepalive must be at least 1s; connect_timeout and backoff_max must be positive"))
	}
	if c.Sources.MaxConcurrent < 1 || c.Sources.MaxConcurrent > 1024 {
		errs.Add(f.Errorf("sources.max_concurrent", "must be 1 to 1024"))
	}
	if c.Sources.BreakerFailures < 1 {
		errs.Add(f.Errorf("sources.breaker_failures", "must be at least 1"))
	}
	if c.Sources.BreakerBackoffMax < time.Second {
		errs.Add(f.Errorf("sources.breaker_backoff_max", "must be at least 1s"))
	}
	devices := map[string]string{}
	device := func(key, name string) {
		if err := sparkplug.ValidateID(name); err != nil {
			errs.Add(f.Errorf(key, "%v", err))
			return
		}
		if name == StatusDevice {
			errs.Add(f.Errorf(key, "device name %q is reserved for the edge's own status", name))
			return
		}
		if prev, ok := devices[name]; ok {
			errs.Add(f.Errorf(key, "device name %q already used at %s", name, prev))
			return
		}
		devices[name] = key
	}
	busAddrs := map[string]map[uint16]string{} // bus → address → key
	for i := range c.I2C {
		b := &c.I2C[i]
		key := fmt.Sprintf("i2c[%d]", i)
		if b.Bus == "" {
			errs.Add(f.Errorf(key+".bus", "required: a bus name such as \"1\", or \"emulated\""))
		}
		addrs := busAddrs[b.Bus]
		if addrs == nil {
			addrs = map[uint16]string{}
			busAddrs[b.Bus] = addrs
		}
		for j := range b.Sensors {
			s := &b.Sensors[j]
			sk := fmt.Sprintf("%s.sensors[%d]", key, j)
			device(sk+".name", s.Name)
			if prev, ok := addrs[s.Address]; ok {
				errs.Add(f.Errorf(sk+".address", "%#02x already used on bus %q by %s", s.Address, b.Bus, prev))
			}
			addrs[s.Address] = sk
			chip, err := chips.Lookup(s.Chip)
			if err != nil {
				errs.Add(f.Errorf(sk+".chip", "%v", err))
			} else {
				if err := chip.CheckAddr(s.Address); err != nil {
					errs.Add(f.Errorf(sk+".address", "%v", err))
				}
				for _, o := range s.options() {
					if !chip.Takes(o) {
						errs.Add(f.Errorf(sk+"."+o, "does not apply to %s", s.Chip))
					}
				}
				if chip.Takes(chips.OptShuntOhms) && s.ShuntOhms <= 0 {
					errs.Add(f.Errorf(sk+".shunt_ohms", "required for %s: the shunt resistance in ohms, e.g. 0.1", s.Chip))
				}
				if s.MaxAmps < 0 {
					errs.Add(f.Errorf(sk+".max_amps", "must not be negative"))
				}
				if s.Averages < 0 || s.Averages > 1024 {
					errs.Add(f.Errorf(sk+".averages", "must be 1 to 1024 (the chip accepts its own steps)"))
				}
				if !slices.Contains([]int{0, 1, 2, 4, 8, 16}, s.Oversampling) {
					errs.Add(f.Errorf(sk+".oversampling", "must be 1, 2, 4, 8 or 16"))
				}
				if !slices.Contains([]string{"", "0.5", "0.25", "0.125", "0.0625"}, s.Resolution) {
					errs.Add(f.Errorf(sk+".resolution", "must be 0.5, 0.25, 0.125 or 0.0625"))
				}
				if !slices.Contains([]string{"", "high", "medium", "low"}, s.Precision) {
					errs.Add(f.Errorf(sk+".precision", "must be high, medium or low"))
				}
				for k, fan := range s.Fans {
					if fan.Channel < 1 || fan.Channel > 6 {
						errs.Add(f.Errorf(fmt.Sprintf("%s.fans[%d].channel", sk, k), "must be 1 to 6"))
					}
				}
			}
			if s.Period == 0 {
				s.Period = 5 * time.Second
			}
			if s.Period < 100*time.Millisecond {
				errs.Add(f.Errorf(sk+".period", "must be at least 100ms"))
			}
		}
	}
	for i := range c.SNMP {
		t := &c.SNMP[i]
		key := fmt.Sprintf("snmp[%d]", i)
		device(key+".name", t.Name)
		if t.Period == 0 {
			t.Period = 15 * time.Second
		}
		if t.Period < 100*time.Millisecond {
			errs.Add(f.Errorf(key+".period", "must be at least 100ms"))
		}
		c.validateSNMPSecurity(f, &errs, key, t)
		o := t.PollerOpts()
		o.ProfileDirs = c.SNMPProfiles
		if _, err := snmppoll.New(o); err != nil {
			errs.Add(f.Errorf(key, "%v", err))
		}
	}
	if c.Host.Enabled {
		device("host.device", c.Host.Device)
		if c.Host.Period < 100*time.Millisecond {
			errs.Add(f.Errorf("host.period", "must be at least 100ms"))
		}
		if c.Host.Root == "" {
			errs.Add(f.Errorf("host.root", "required: / on a real host"))
		}
	}
	c.resolveTrapSecrets(f, &errs)
	if c.Traps.Listen != "" {
		o := c.Traps.TrapOpts()
		o.Handler = func(traps.Event) {} // validation only: nothing is received
		if _, err := traps.New(o); err != nil {
			errs.Add(f.Errorf("traps", "%v", err))
		}
	}
	c.Commands.validate(f, &errs)
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		errs.Add(f.Errorf("log.level", "must be debug, info, warn or error"))
	}
	if l := c.Metrics.Listen; l != "" {
		if _, port, err := net.SplitHostPort(l); err != nil {
			errs.Add(f.Errorf("metrics.listen", "%q is not host:port, such as 0.0.0.0:9471: %v", l, err))
		} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			errs.Add(f.Errorf("metrics.listen", "%q: the port must be a number, 0 to 65535", l))
		}
	}
	return errs.Err()
}

// PollerOpts returns the snmppoll options for the target.
func (t *SNMP) PollerOpts() *snmppoll.Opts {
	return &snmppoll.Opts{
		Name: t.Name, Address: t.Address, Version: t.Version, Community: string(t.Community),
		User: t.User, AuthProtocol: t.AuthProtocol, AuthPassphrase: string(t.AuthPassphrase),
		PrivProtocol: t.PrivProtocol, PrivPassphrase: string(t.PrivPassphrase), ContextName: t.ContextName,
		Profiles: t.Profiles, Timeout: t.Timeout, Retries: t.Retries, MaxRepetitions: t.MaxRepetitions,
	}
}
