package config

import (
	"fmt"
	"strings"

	"github.com/rackwatch/rackwatch/edge/configfile"
	"github.com/rackwatch/rackwatch/edge/snmppoll"
)

// validateSNMPSecurity reads the target's secret files and applies
// snmp_security: a target of version 1 or 2c (which is also what an
// empty version means when no v3 user is set) is refused unless
// community-based SNMP is allowed for it. An empty version with a user
// means version 3, so the documented v3 authPriv target needs no version
// key.
func (c *Config) validateSNMPSecurity(f *configfile.File, errs *configfile.Errors, key string, t *SNMP) {
	f.ResolveSecret(errs, key+".community", &t.Community, key+".community_file", t.CommunityFile)
	f.ResolveSecret(errs, key+".auth_passphrase", &t.AuthPassphrase, key+".auth_passphrase_file", t.AuthPassphraseFile)
	f.ResolveSecret(errs, key+".priv_passphrase", &t.PrivPassphrase, key+".priv_passphrase_file", t.PrivPassphraseFile)
	if t.Version == "" && t.User != "" {
		t.Version = "3"
	}
	switch t.Version {
	case "3":
		if t.PrivPassphrase == "" {
			f.Warnf(key+".priv_passphrase_file", "SNMPv3 without privacy sends the polled values in clear; set auth_* and priv_* for authPriv")
		}
		return
	case "", snmppoll.DefaultVersion, "1":
	default:
		return // snmppoll reports the unknown version
	}
	if c.SNMPSecurity.AllowCommunity || t.AllowCommunity {
		return
	}
	v := t.Version
	if v == "" {
		v = snmppoll.DefaultVersion + " (the default without a user)"
	}
	errs.Add(f.Errorf(key+".version", "SNMP %s is refused: its community crosses the network in clear and proves nothing; "+
		"use version \"3\" with user, auth_* and priv_* (authPriv), or allow it with %s.allow_community: true "+
		"or snmp_security.allow_community: true", v, key))
}

// resolveTrapSecrets reads the receiver's secret files and applies
// snmp_security to its communities.
func (c *Config) resolveTrapSecrets(f *configfile.File, errs *configfile.Errors) {
	tr := &c.Traps
	for i := range tr.Communities {
		if tr.Communities[i] != "" {
			f.Warnf(fmt.Sprintf("traps.communities[%d]", i), "holds a secret inline; put it in a file of mode 0600 and list it under traps.community_files")
		}
	}
	for i, p := range tr.CommunityFiles {
		s, err := configfile.ReadSecretFile(p)
		if err != nil {
			errs.Add(f.Errorf(fmt.Sprintf("traps.community_files[%d]", i), "%s", strings.TrimPrefix(err.Error(), "configfile: ")))
			continue
		}
		tr.Communities = append(tr.Communities, s)
	}
	for i := range tr.Users {
		u := &tr.Users[i]
		key := fmt.Sprintf("traps.users[%d]", i)
		f.ResolveSecret(errs, key+".auth_passphrase", &u.AuthPassphrase, key+".auth_passphrase_file", u.AuthPassphraseFile)
		f.ResolveSecret(errs, key+".priv_passphrase", &u.PrivPassphrase, key+".priv_passphrase_file", u.PrivPassphraseFile)
	}
	if tr.Listen != "" && len(tr.Communities) > 0 && !c.SNMPSecurity.AllowCommunity && !tr.AllowCommunity {
		key := "traps.communities"
		if len(tr.CommunityFiles) > 0 && f.Line(key) == 0 {
			key = "traps.community_files"
		}
		errs.Add(f.Errorf(key, "SNMP v1 and v2c notifications are refused: a community authenticates nothing; "+
			"use traps.users (SNMPv3 authPriv), or allow them with traps.allow_community: true or snmp_security.allow_community: true"))
	}
}
