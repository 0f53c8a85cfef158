// Package config defines the collector's configuration file: the broker
// and Sparkplug identity, the HAProxy instances to read and steer, the
// inventory that maps each node to its load-balancer server and to the
// edge device that measures it, and the decision policy.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/rackwatch/rackwatch/collector/api"
	"github.com/rackwatch/rackwatch/collector/broker"
	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/collector/snmpnotify"
	"github.com/rackwatch/rackwatch/edge/configfile"
	"github.com/rackwatch/rackwatch/edge/sparkplug"
)

// Versions lists the configuration format versions this binary reads.
var Versions = []int{1}

// Config is the collector configuration.
type Config struct {
	Version int `yaml:"version"`
	// StateDir keeps what must survive a restart: the desired state of the
	// nodes rackwatch shed or drained.
	StateDir    string      `yaml:"state_dir"`
	MQTT        MQTT        `yaml:"mqtt"`
	HAProxy     []HAProxy   `yaml:"haproxy"`
	HAProxyLog  *HAProxyLog `yaml:"haproxy_log"`
	Racks       []Rack      `yaml:"racks"`
	Nodes       []Node      `yaml:"nodes"`
	Correlation Correlation `yaml:"correlation"`
	Policy      Policy      `yaml:"policy"`
	API         API         `yaml:"api"`
	Webhook     *Webhook    `yaml:"webhook"`
	InfluxDB    *InfluxDB   `yaml:"influxdb"`
	SNMPNotify  *SNMPNotify `yaml:"snmp_notify"`
	Log         LogConfig   `yaml:"log"`
	// Commands, when set, signs the commands sent to edges.
	Commands *Commands `yaml:"commands"`

	file *configfile.File
}

// HAProxyLog receives HAProxy's request log (syslog over UDP, option
// httplog) for per-server latency percentiles and 504s.
type HAProxyLog struct {
	Listen string        `yaml:"listen"`
	Window time.Duration `yaml:"window"`
}

// Rack is one rack: the edge that watches it and its inlet sensor.
type Rack struct {
	Name string `yaml:"name"`
	Edge string `yaml:"edge"`
	// Inlet is the Sparkplug device of the rack's inlet air sensor.
	Inlet string `yaml:"inlet"`
}

// Correlation sets the windows over which signals are read.
type Correlation struct {
	// Window is the span of rates and counts (throttling, errors, flaps).
	Window time.Duration `yaml:"window"`
	// Baseline is how much latency history forms a node's own normal.
	Baseline time.Duration `yaml:"baseline"`
}

// MQTT configures the broker connection and the primary host identity.
type MQTT struct {
	// Broker is the URL of an external broker. Empty runs the embedded
	// broker (collector/broker) on Listen instead.
	Broker string `yaml:"broker"`
	// Listen is the embedded broker's loopback "host:port"; empty means
	// broker.DefaultAddr.
	Listen   string            `yaml:"listen"`
	ClientID string            `yaml:"client_id"`
	Username string            `yaml:"username"`
	Password configfile.Secret `yaml:"password"`
	// PasswordFile holds the password instead (mode 0600 or 0640, see
	// configfile.OpenSecretFile).
	PasswordFile string `yaml:"password_file"`
	// CAFile is a PEM bundle of the CAs that sign the broker's certificate;
	// empty uses the system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the collector's PEM client certificate and
	// key for a broker that requires mutual TLS; the key file must be mode
	// 0600 or 0640.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	Group    string `yaml:"group"`
	HostID   string `yaml:"host_id"`
}

// TLS returns the files of the broker connection's TLS settings.
func (m *MQTT) TLS() configfile.ClientTLS {
	return configfile.ClientTLS{CAFile: m.CAFile, CertFile: m.CertFile, KeyFile: m.KeyFile}
}

// HAProxy is one HAProxy instance reached through its runtime API.
type HAProxy struct {
	Name string `yaml:"name"`
	// Address is the admin socket path, or host:port for a TCP stats socket.
	Address string        `yaml:"address"`
	Period  time.Duration `yaml:"period"`
	Timeout time.Duration `yaml:"timeout"`
}

// Node is one API server in the inventory.
type Node struct {
	Name string `yaml:"name"`
	Rack string `yaml:"rack"`
	// Edge is the Sparkplug edge node (rack controller) that polls the
	// node's BMC, and BMC the Sparkplug device name of that BMC.
	Edge string `yaml:"edge"`
	BMC  string `yaml:"bmc"`
	// Sensors restricts which of the BMC's temperature sensors count
	// (e.g. the CPU sensors); empty means all.
	Sensors []string   `yaml:"sensors"`
	LB      []LBServer `yaml:"lb"`
	// Switch is the switch port the node's NIC is cabled to, as the rack
	// edge publishes it (device = the switch's SNMP target name).
	Switch *Port `yaml:"switch"`
	// Host is the host-mode edge running on the node itself, for CPU
	// throttling, NIC counters and kernel events.
	Host *HostRef `yaml:"host"`
	// AgentCheck says HAProxy polls an agent-check responder on the node's
	// host-mode edge (its server lines carry agent-check). Such a node is
	// steered through lb_state commands to that edge, since the agent's
	// answer overrides runtime API changes.
	AgentCheck bool `yaml:"agent_check"`
}

// Port is one switch port.
type Port struct {
	Edge   string `yaml:"edge"`
	Device string `yaml:"device"`
	IfName string `yaml:"ifname"`
}

// HostRef names a host-mode edge and its host device.
type HostRef struct {
	Edge   string `yaml:"edge"`
	Device string `yaml:"device"`
}

// LBServer places a node in a load balancer.
type LBServer struct {
	HAProxy string `yaml:"haproxy"`
	Backend string `yaml:"backend"`
	Server  string `yaml:"server"`
}

// Policy mirrors decide.Policy in the file; zero values take the defaults
// of decide.DefaultPolicy.
type Policy struct {
	HotCelsius        float64       `yaml:"hot_celsius"`
	CritCelsius       float64       `yaml:"crit_celsius"`
	NearMargin        float64       `yaml:"near_margin"`
	CritMargin        float64       `yaml:"crit_margin"`
	CoolMargin        float64       `yaml:"cool_margin"`
	InletHotCelsius   float64       `yaml:"inlet_hot_celsius"`
	ThrottleRate      float64       `yaml:"throttle_rate"`
	FCSRate           float64       `yaml:"fcs_rate"`
	Flaps             float64       `yaml:"flaps"`
	KernelEvents      float64       `yaml:"kernel_events"`
	LatencyRatio      float64       `yaml:"latency_ratio"`
	LatencyMinDelta   time.Duration `yaml:"latency_min_delta"`
	PeerMADs          float64       `yaml:"peer_mads"`
	MinSamples        int           `yaml:"min_samples"`
	Hold              time.Duration `yaml:"hold"`
	DrainAfter        time.Duration `yaml:"drain_after"`
	RestoreHold       time.Duration `yaml:"restore_hold"`
	StepHold          time.Duration `yaml:"step_hold"`
	StaleAfter        time.Duration `yaml:"stale_after"`
	VerifyWindow      time.Duration `yaml:"verify_window"`
	VerifyImprovement float64       `yaml:"verify_improvement"`
	RollbackCooldown  time.Duration `yaml:"rollback_cooldown"`
	MaxFraction       float64       `yaml:"max_fraction"`
	MaxActionsPerHour int           `yaml:"max_actions_per_hour"`
	RackHotMin        int           `yaml:"rack_hot_min"`
	RackHotFraction   float64       `yaml:"rack_hot_fraction"`
	// Tick is how often the decision loop runs.
	Tick time.Duration `yaml:"tick"`
	// DryRun decides and records without changing any load balancer.
	DryRun bool `yaml:"dry_run"`
}

// Decide returns the engine's policy.
func (p Policy) Decide() decide.Policy {
	return decide.Policy{
		HotCelsius: p.HotCelsius, CritCelsius: p.CritCelsius, NearMargin: p.NearMargin, CritMargin: p.CritMargin,
		CoolMargin: p.CoolMargin, InletHotCelsius: p.InletHotCelsius, ThrottleRate: p.ThrottleRate, FCSRate: p.FCSRate,
		Flaps: p.Flaps, KernelEvents: p.KernelEvents, LatencyRatio: p.LatencyRatio, LatencyMinDelta: p.LatencyMinDelta,
		PeerMADs: p.PeerMADs, MinSamples: p.MinSamples, Hold: p.Hold, DrainAfter: p.DrainAfter, RestoreHold: p.RestoreHold,
		StepHold: p.StepHold, StaleAfter: p.StaleAfter, VerifyWindow: p.VerifyWindow, VerifyImprovement: p.VerifyImprovement,
		RollbackCooldown: p.RollbackCooldown, MaxFraction: p.MaxFraction, MaxActionsPerHour: p.MaxActionsPerHour,
		RackHotMin: p.RackHotMin, RackHotFraction: p.RackHotFraction,
	}.WithDefaults()
}

// API configures the HTTP API (docs/api.md).
type API struct {
	// Listen is the address; empty turns the API off.
	Listen string `yaml:"listen"`
	// TokensFile holds "name:token" lines; a mutating call must present
	// one, and its name goes into the audit record. Mode 0600 or 0640.
	TokensFile string `yaml:"tokens_file"`
	// TLSCertFile and TLSKeyFile serve the API over HTTPS only (TLS 1.2
	// or later); the key file is a secret file. Without them the API
	// speaks plain HTTP, fit for loopback.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// RateLimit bounds the requests served (429 beyond).
	RateLimit RateLimit `yaml:"rate_limit"`
}

// RateLimit mirrors api.RateLimit: sustained requests per second and
// bursts, per client address and for all clients together.
type RateLimit struct {
	PerClient      float64 `yaml:"per_client"`
	PerClientBurst int     `yaml:"per_client_burst"`
	Global         float64 `yaml:"global"`
	GlobalBurst    int     `yaml:"global_burst"`
}

// Webhook sends every desired state change to an HTTP endpoint as well.
type Webhook struct {
	URL string `yaml:"url"`
	// TokenFile holds a bearer token (mode 0600 or 0640).
	TokenFile string        `yaml:"token_file"`
	Timeout   time.Duration `yaml:"timeout"`
}

// InfluxDB enables the InfluxDB sink.
type InfluxDB struct {
	URL             string            `yaml:"url"`
	Database        string            `yaml:"database"`
	RetentionPolicy string            `yaml:"retention_policy"`
	Username        string            `yaml:"username"`
	Password        configfile.Secret `yaml:"password"`
	// PasswordFile holds the password instead.
	PasswordFile string `yaml:"password_file"`
}

// SNMPNotify sends alerts to network management stations as SNMP
// notifications of RACKWATCH-MIB (mibs/README.md).
type SNMPNotify struct {
	Targets []SNMPTarget `yaml:"targets"`
}

// SNMPTarget is one management station.
type SNMPTarget struct {
	Name    string `yaml:"name"`
	Address string `yaml:"address"`
	// Version is v2c (traps, or INFORMs with inform: true) or v3 (INFORMs).
	Version   string            `yaml:"version"`
	Inform    bool              `yaml:"inform"`
	Community configfile.Secret `yaml:"community"`
	// SNMPv3 USM.
	User           string            `yaml:"user"`
	AuthProtocol   string            `yaml:"auth_protocol"`
	AuthPassphrase configfile.Secret `yaml:"auth_passphrase"`
	PrivProtocol   string            `yaml:"priv_protocol"`
	PrivPassphrase configfile.Secret `yaml:"priv_passphrase"`
	// The *_file keys name files that hold the secrets instead.
	CommunityFile      string `yaml:"community_file"`
	AuthPassphraseFile string `yaml:"auth_passphrase_file"`
	PrivPassphraseFile string `yaml:"priv_passphrase_file"`
	// Timeout is one INFORM attempt's wait for the acknowledgement, and
	// Retries the attempts after the first (absent: 2; 0: none).
	Timeout time.Duration `yaml:"timeout"`
	Retries *int          `yaml:"retries"`
	// Queue bounds the notifications waiting for the target.
	Queue int `yaml:"queue"`
}

// Target returns the sender's settings of t.
func (t SNMPTarget) Target() snmpnotify.Target {
	retries := -1 // snmpnotify: negative is none, 0 its default
	switch {
	case t.Retries == nil:
		retries = 0
	case *t.Retries > 0:
		retries = *t.Retries
	}
	return snmpnotify.Target{Name: t.Name, Address: t.Address, Version: t.Version, Inform: t.Inform,
		Community: string(t.Community), User: t.User, AuthProtocol: t.AuthProtocol, AuthPassphrase: string(t.AuthPassphrase),
		PrivProtocol: t.PrivProtocol, PrivPassphrase: string(t.PrivPassphrase), Timeout: t.Timeout, Retries: retries, Queue: t.Queue}
}

// LogConfig sets the log level: debug, info, warn or error.
type LogConfig struct {
	Level string `yaml:"level"`
}

// Default returns the configuration that the file's keys override.
func Default() Config {
	return Config{
		StateDir:    "/var/lib/rackwatch",
		API:         API{Listen: "127.0.0.1:8080", RateLimit: defaultRateLimit()},
		MQTT:        MQTT{Group: "site1", HostID: "rackwatch-collector"},
		Correlation: Correlation{Window: time.Minute, Baseline: 30 * time.Minute},
		Policy:      Policy{Tick: time.Second},
		Log:         LogConfig{Level: "info"},
	}
}

// File returns where the configuration came from, for errors about it
// found later, such as an inventory server the load balancer does not have.
func (c *Config) File() *configfile.File {
	if c.file == nil {
		return &configfile.File{Path: "configuration"} // built in code, not loaded
	}
	return c.file
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

// Validate fills per-item defaults and checks every rule.
func (c *Config) Validate(f *configfile.File) error {
	var errs configfile.Errors
	switch {
	case c.MQTT.Broker == "":
		if err := broker.CheckAddr(cmp.Or(c.MQTT.Listen, broker.DefaultAddr)); err != nil {
			errs.Add(f.Errorf("mqtt.listen", "%v", err))
		}
	case c.MQTT.Listen != "":
		errs.Add(f.Errorf("mqtt.listen", "is the embedded broker's address, which runs only when mqtt.broker is empty"))
	default:
		if u, err := url.Parse(c.MQTT.Broker); err != nil || u.Host == "" || !slices.Contains([]string{"tcp", "mqtt", "ssl", "tls", "ws", "wss"}, u.Scheme) {
			errs.Add(f.Errorf("mqtt.broker", "%q is not a broker URL such as tcp://broker:1883", c.MQTT.Broker))
		}
	}
	f.CheckClientTLS(&errs, "mqtt.", c.MQTT.TLS(), c.MQTT.Broker)
	f.ResolveSecret(&errs, "mqtt.password", &c.MQTT.Password, "mqtt.password_file", c.MQTT.PasswordFile)
	c.validateAPI(f, &errs)
	if err := sparkplug.ValidateID(c.MQTT.Group); err != nil {
		errs.Add(f.Errorf("mqtt.group", "%v", err))
	}
	if err := sparkplug.ValidateID(c.MQTT.HostID); err != nil {
		errs.Add(f.Errorf("mqtt.host_id", "%v", err))
	}
	lbs := map[string]bool{}
	for i := range c.HAProxy {
		h := &c.HAProxy[i]
		key := fmt.Sprintf("haproxy[%d]", i)
		if h.Name == "" || lbs[h.Name] {
			errs.Add(f.Errorf(key+".name", "required and unique, got %q", h.Name))
		}
		lbs[h.Name] = true
		if h.Address == "" {
			errs.Add(f.Errorf(key+".address", "required: the admin socket path, such as /run/haproxy/admin.sock"))
		}
		if h.Period == 0 {
			h.Period = 2 * time.Second
		}
		if h.Timeout == 0 {
			h.Timeout = 2 * time.Second
		}
		if h.Period < 100*time.Millisecond {
			errs.Add(f.Errorf(key+".period", "must be at least 100ms"))
		}
	}
	racks := map[string]bool{}
	for i, r := range c.Racks {
		key := fmt.Sprintf("racks[%d]", i)
		if r.Name == "" || racks[r.Name] {
			errs.Add(f.Errorf(key+".name", "required and unique, got %q", r.Name))
		}
		racks[r.Name] = true
		if r.Inlet != "" && sparkplug.ValidateID(r.Edge) != nil {
			errs.Add(f.Errorf(key+".edge", "required with inlet: the edge that publishes the inlet sensor"))
		}
	}
	if h := c.HAProxyLog; h != nil {
		if h.Listen == "" {
			h.Listen = "127.0.0.1:5514"
		}
		if h.Window == 0 {
			h.Window = time.Minute
		}
	}
	if c.Correlation.Window < time.Second || c.Correlation.Baseline < c.Correlation.Window {
		errs.Add(f.Errorf("correlation", "window must be at least 1s and baseline at least the window"))
	}
	nodes := map[string]bool{}
	servers := map[LBServer]string{}
	for i := range c.Nodes {
		n := &c.Nodes[i]
		key := fmt.Sprintf("nodes[%d]", i)
		if n.Name == "" || nodes[n.Name] {
			errs.Add(f.Errorf(key+".name", "required and unique, got %q", n.Name))
		}
		nodes[n.Name] = true
		if sparkplug.ValidateID(n.Edge) != nil {
			errs.Add(f.Errorf(key+".edge", "required: the Sparkplug edge node that reports this node's BMC"))
		}
		if sparkplug.ValidateID(n.BMC) != nil {
			errs.Add(f.Errorf(key+".bmc", "required: the Sparkplug device name of this node's BMC"))
		}
		if n.Rack != "" && len(c.Racks) > 0 && !racks[n.Rack] {
			errs.Add(f.Errorf(key+".rack", "unknown rack %q (define it under racks:)", n.Rack))
		}
		if p := n.Switch; p != nil {
			if p.Edge == "" {
				p.Edge = n.Edge
			}
			if sparkplug.ValidateID(p.Device) != nil || p.IfName == "" {
				errs.Add(f.Errorf(key+".switch", "device (the switch's SNMP target name) and ifname are required"))
			}
		}
		if n.AgentCheck && n.Host == nil {
			errs.Add(f.Errorf(key+".agent_check", "needs host: the host-mode edge that runs the responder"))
		}
		if h := n.Host; h != nil {
			if h.Device == "" {
				h.Device = "host"
			}
			if sparkplug.ValidateID(h.Edge) != nil {
				errs.Add(f.Errorf(key+".host.edge", "required: the host-mode edge running on the node"))
			}
		}
		for j, lb := range n.LB {
			lk := fmt.Sprintf("%s.lb[%d]", key, j)
			if !lbs[lb.HAProxy] {
				errs.Add(f.Errorf(lk+".haproxy", "unknown HAProxy instance %q (define it under haproxy:)", lb.HAProxy))
			}
			if lb.Backend == "" || lb.Server == "" {
				errs.Add(f.Errorf(lk, "backend and server are required"))
			}
			if prev, ok := servers[lb]; ok {
				errs.Add(f.Errorf(lk, "server %s/%s is already node %q's", lb.Backend, lb.Server, prev))
			}
			servers[lb] = n.Name
		}
	}
	if err := c.Policy.Decide().Validate(); err != nil {
		errs.Add(f.Errorf("policy", "%v", err))
	}
	if c.StateDir == "" {
		errs.Add(f.Errorf("state_dir", "required"))
	}
	if c.Policy.Tick < 10*time.Millisecond {
		errs.Add(f.Errorf("policy.tick", "must be at least 10ms"))
	}
	if w := c.Webhook; w != nil {
		if u, err := url.Parse(w.URL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			errs.Add(f.Errorf("webhook.url", "%q is not an http(s) URL", w.URL))
		}
		if w.TokenFile != "" {
			if _, err := configfile.ReadSecretFile(w.TokenFile); err != nil {
				errs.Add(f.Errorf("webhook.token_file", "%s", strings.TrimPrefix(err.Error(), "configfile: ")))
			}
		}
	}
	if c.InfluxDB != nil {
		if u, err := url.Parse(c.InfluxDB.URL); err != nil || u.Host == "" {
			errs.Add(f.Errorf("influxdb.url", "%q is not a URL such as http://127.0.0.1:8086", c.InfluxDB.URL))
		}
		if c.InfluxDB.Database == "" {
			errs.Add(f.Errorf("influxdb.database", "required"))
		}
		f.ResolveSecret(&errs, "influxdb.password", &c.InfluxDB.Password, "influxdb.password_file", c.InfluxDB.PasswordFile)
	}
	if c.SNMPNotify != nil {
		c.validateSNMPNotify(f, &errs)
	}
	if c.Commands != nil {
		c.Commands.validate(f, &errs)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		errs.Add(f.Errorf("log.level", "must be debug, info, warn or error"))
	}
	return errs.Err()
}

// Warnings returns what the loaded file holds that is accepted but should
// change, such as inline secrets, each as file:line: key: message.
func (c *Config) Warnings() []string { return c.file.Warnings() }

// validateAPI checks the API's secret files and rate limit. The token
// file and the TLS key are read here as well as at start, so that
// check-config catches a file other users can read.
func (c *Config) validateAPI(f *configfile.File, errs *configfile.Errors) {
	a := &c.API
	if a.TokensFile != "" {
		if _, err := api.LoadTokens(a.TokensFile); err != nil {
			errs.Add(f.Errorf("api.tokens_file", "%s", strings.TrimPrefix(strings.TrimPrefix(err.Error(), "api: token file: "), "configfile: ")))
		}
	}
	if a.TLSCertFile != "" || a.TLSKeyFile != "" {
		switch err := api.CheckTLS(a.TLSCertFile, a.TLSKeyFile); {
		case a.TLSCertFile == "":
			errs.Add(f.Errorf("api.tls_cert_file", "required with api.tls_key_file: the server's PEM certificate"))
		case a.TLSKeyFile == "":
			errs.Add(f.Errorf("api.tls_key_file", "required with api.tls_cert_file: the certificate's private key"))
		case err != nil && strings.HasPrefix(err.Error(), "api: tls_cert_file: "):
			errs.Add(f.Errorf("api.tls_cert_file", "%s", strings.TrimPrefix(err.Error(), "api: tls_cert_file: ")))
		case err != nil:
			errs.Add(f.Errorf("api.tls_key_file", "%s", strings.TrimPrefix(strings.TrimPrefix(err.Error(), "api: tls_key_file: "), "configfile: ")))
		}
	}
	r := a.RateLimit
	if r.PerClient <= 0 || r.Global <= 0 || r.PerClientBurst < 1 || r.GlobalBurst < 1 {
		errs.Add(f.Errorf("api.rate_limit", "per_client and global must be positive, per_client_burst and global_burst at least 1"))
	}
}

// defaultRateLimit is api.DefaultRateLimit in the file's terms.
func defaultRateLimit() RateLimit {
	d := api.DefaultRateLimit
	return RateLimit{PerClient: d.PerClient, PerClientBurst: d.PerClientBurst, Global: d.Global, GlobalBurst: d.GlobalBurst}
}

// APIRateLimit returns the API's rate limit.
func (a API) APIRateLimit() api.RateLimit {
	r := a.RateLimit
	return api.RateLimit{PerClient: r.PerClient, PerClientBurst: r.PerClientBurst, Global: r.Global, GlobalBurst: r.GlobalBurst}
}

// validateSNMPNotify checks the SNMP notification targets, naming the key
// of each problem.
func (c *Config) validateSNMPNotify(f *configfile.File, errs *configfile.Errors) {
	if len(c.SNMPNotify.Targets) == 0 {
		errs.Add(f.Errorf("snmp_notify.targets", "at least one target is required"))
	}
	names := map[string]bool{}
	for i := range c.SNMPNotify.Targets {
		t := &c.SNMPNotify.Targets[i]
		key := fmt.Sprintf("snmp_notify.targets[%d]", i)
		f.ResolveSecret(errs, key+".community", &t.Community, key+".community_file", t.CommunityFile)
		f.ResolveSecret(errs, key+".auth_passphrase", &t.AuthPassphrase, key+".auth_passphrase_file", t.AuthPassphraseFile)
		f.ResolveSecret(errs, key+".priv_passphrase", &t.PrivPassphrase, key+".priv_passphrase_file", t.PrivPassphraseFile)
		name := t.Name
		if name == "" {
			name = t.Address
		}
		if names[name] {
			errs.Add(f.Errorf(key+".name", "%q is used by another target", name))
		}
		names[name] = true
		if t.Retries != nil && (*t.Retries < 0 || *t.Retries > 10) {
			errs.Add(f.Errorf(key+".retries", "must be 0 to 10"))
		}
		if t.Timeout != 0 && (t.Timeout < 10*time.Millisecond || t.Timeout > time.Minute) {
			errs.Add(f.Errorf(key+".timeout", "must be between 10ms and 1m"))
		}
		if t.Queue < 0 || t.Queue > 100000 {
			errs.Add(f.Errorf(key+".queue", "must be 0 (the default) to 100000"))
		}
		if err := snmpnotify.CheckTarget(t.Target()); err != nil {
			var fe *snmpnotify.FieldError
			if errors.As(err, &fe) {
				errs.Add(f.Errorf(key+"."+fe.Field, "%v", fe.Err))
			} else {
				errs.Add(f.Errorf(key, "%v", err))
			}
		}
	}
}
