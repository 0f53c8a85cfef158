package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/rackwatch/rackwatch/edge/configfile"
	"github.com/rackwatch/rackwatch/edge/sample"
	"github.com/rackwatch/rackwatch/edge/snmppoll"
)

const snmpUsage = `usage:
  rackwatch-edge snmp poll --target HOST:PORT --community C [--version 1|2c] [flags]
  rackwatch-edge snmp poll --target HOST:PORT --v3-user U [--auth-proto P --auth-pass X [--priv-proto P --priv-pass X]] [--context NAME] [flags]
flags: [--profile auto|NAME]... [--profile-dir DIR]... [--format table|json] [--timeout D] [--retries N]
secrets: --community-file, --auth-pass-file and --priv-pass-file read a file of mode 0600, and
  RACKWATCH_SNMP_COMMUNITY, RACKWATCH_SNMP_AUTH_PASS and RACKWATCH_SNMP_PRIV_PASS are read when
  neither the flag nor its file is given; --community, --auth-pass and --priv-pass put the secret
  on the command line, where other users can read it (ps, /proc): for labs only`

// snmpCmd runs the SNMP field commands: poll one target once and show what
// the edge would publish for it, to check credentials and profiles from
// the rack before the target goes into the configuration.
func snmpCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "poll" {
		if len(args) > 0 {
			fmt.Fprintf(stderr, "rackwatch-edge snmp: unknown command %q\n", args[0])
		}
		fmt.Fprintln(stderr, snmpUsage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return snmpPoll(ctx, args[1:], stdout, stderr)
}

// listFlag is a repeatable flag; a value may also list several items
// separated by commas.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// pollFlags is what the command line of snmp poll says.
type pollFlags struct {
	opts    snmppoll.Opts
	format  string
	retries int
}

func snmpPoll(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f pollFlags
	o := &f.opts
	fs := flag.NewFlagSet("snmp poll", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, snmpUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.Address, "target", "", "agent `address`, HOST:PORT (the port defaults to 161)")
	fs.StringVar(&o.Version, "version", "", "SNMP `version`: 1, 2c (default) or 3 (default with --v3-user)")
	fs.StringVar(&o.Community, "community", "", "SNMPv1/v2c `community` (visible to other users: lab use; prefer --community-file)")
	var files secretFlags
	fs.StringVar(&files.community, "community-file", "", "`file` (mode 0600) holding the SNMPv1/v2c community")
	fs.StringVar(&files.auth, "auth-pass-file", "", "`file` (mode 0600) holding the SNMPv3 auth passphrase")
	fs.StringVar(&files.priv, "priv-pass-file", "", "`file` (mode 0600) holding the SNMPv3 privacy passphrase")
	fs.StringVar(&o.User, "v3-user", "", "SNMPv3 USM `user`")
	fs.StringVar(&o.AuthProtocol, "auth-proto", "", "SNMPv3 auth `protocol`: MD5, SHA, SHA-224, SHA-256, SHA-384, SHA-512")
	fs.StringVar(&o.AuthPassphrase, "auth-pass", "", "SNMPv3 auth `passphrase` (visible to other users: lab use; prefer --auth-pass-file)")
	fs.StringVar(&o.PrivProtocol, "priv-proto", "", "SNMPv3 privacy `protocol`: DES, AES, AES-192, AES-256, AES-192-C, AES-256-C")
	fs.StringVar(&o.PrivPassphrase, "priv-pass", "", "SNMPv3 privacy `passphrase` (visible to other users: lab use; prefer --priv-pass-file)")
	fs.StringVar(&o.ContextName, "context", "", "SNMPv3 context `name`")
	fs.DurationVar(&o.Timeout, "timeout", snmppoll.DefaultTimeout, "`duration` of one request before a retry")
	fs.IntVar(&f.retries, "retries", snmppoll.DefaultRetries, "resends of an unanswered request")
	fs.Var((*listFlag)(&o.Profiles), "profile", "profile `name` to poll, or auto (repeatable; default auto)")
	fs.Var((*listFlag)(&o.ProfileDirs), "profile-dir", "`directory` of profile files overriding and extending the built-in ones (repeatable)")
	fs.StringVar(&f.format, "format", "table", "output `format`: table or json")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := files.resolve(o, os.LookupEnv); err != nil {
		fmt.Fprintf(stderr, "rackwatch-edge snmp poll: %v\n%s\n", err, snmpUsage)
		return 2
	}
	red := redactor(o.AuthPassphrase, o.PrivPassphrase)
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "rackwatch-edge snmp poll: %s\n%s\n", red(fmt.Sprintf(format, a...)), snmpUsage)
		return 2
	}
	if fs.NArg() > 0 {
		return usage("unexpected argument %q", fs.Arg(0))
	}
	if err := f.check(); err != nil {
		return usage("%v", err)
	}
	// Profile names are checked here, against the directories given, so
	// that a typo is a usage error rather than a failed poll.
	names, err := profileNames(o.ProfileDirs)
	if err != nil {
		fmt.Fprintf(stderr, "rackwatch-edge snmp poll: %v\n", err)
		return 1
	}
	for _, p := range o.Profiles {
		if !slices.Contains(names, p) {
			return usage("unknown profile %q (have %s)", p, strings.Join(names, ", "))
		}
	}
	o.Name = o.Address
	if host, _, err := net.SplitHostPort(o.Address); err == nil {
		o.Name = host
	}
	p, err := snmppoll.New(o)
	if err != nil {
		return usage("%v", err)
	}
	defer p.Close()

	start := time.Now()
	samples, err := p.Poll(ctx)
	took := time.Since(start)
	code := 0
	if len(samples) > 0 {
		slices.SortFunc(samples, compareSamples)
		w := bufio.NewWriter(stdout)
		if f.format == "json" {
			var line []byte
			for _, s := range samples {
				line = append(sample.AppendJSON(line[:0], s), '\n')
				w.Write(line)
			}
		} else {
			writeTable(w, o.Address, o.Version, p.ActiveProfiles(), samples, took)
		}
		if werr := w.Flush(); werr != nil {
			fmt.Fprintf(stderr, "rackwatch-edge snmp poll: write: %v\n", werr)
			code = 1
		}
	}
	if err != nil {
		msg := err.Error()
		if !strings.Contains(msg, o.Address) {
			msg = p.String() + ": " + msg
		}
		fmt.Fprintf(stderr, "rackwatch-edge snmp poll: %s\n", red(msg))
		code = 1
	}
	return code
}

// check applies the rules of the command line that snmppoll.New cannot
// see (which flags were given at all) and fills in the version.
func (f *pollFlags) check() error {
	o := &f.opts
	switch {
	case o.Address == "":
		return errors.New("--target is required")
	case o.Community != "" && o.User != "":
		return errors.New("--community (SNMPv1/v2c) and --v3-user (SNMPv3) exclude each other")
	case o.Community == "" && o.User == "":
		return errors.New("one of --community or --v3-user is required")
	case f.format != "table" && f.format != "json":
		return fmt.Errorf("unknown --format %q (want table or json)", f.format)
	case o.Timeout <= 0:
		return fmt.Errorf("--timeout %v: must be positive", o.Timeout)
	case f.retries < 0:
		return fmt.Errorf("--retries %d: must be 0 or more", f.retries)
	case o.AuthPassphrase != "" && o.AuthProtocol == "":
		return errors.New("--auth-pass needs --auth-proto")
	case o.PrivPassphrase != "" && o.PrivProtocol == "":
		return errors.New("--priv-pass needs --priv-proto")
	}
	if o.Version == "" {
		o.Version = snmppoll.DefaultVersion
		if o.User != "" {
			o.Version = "3"
		}
	}
	v3 := o.User != ""
	switch {
	case o.Version != "1" && o.Version != "2c" && o.Version != "3":
		return fmt.Errorf("unknown --version %q (want 1, 2c or 3)", o.Version)
	case o.Version == "3" && !v3:
		return errors.New("--version 3 needs --v3-user instead of --community")
	case o.Version != "3" && v3:
		return fmt.Errorf("--v3-user is for SNMPv3, not --version %s", o.Version)
	case !v3 && (o.AuthProtocol != "" || o.PrivProtocol != "" || o.ContextName != ""):
		return errors.New("--auth-proto, --priv-proto and --context are for SNMPv3: give --v3-user")
	}
	// snmppoll reads zero retries as its default; here 0 means none.
	o.Retries = f.retries
	if f.retries == 0 {
		o.Retries = -1
	}
	return nil
}

// secretFlags are the files that hold snmp poll's secrets, so that they
// stay off the command line, which every user of the host can read.
type secretFlags struct{ community, auth, priv string }

// Environment variables read for a secret given neither as a flag nor as
// a file: a process's environment is private to its user.
const (
	envCommunity = "RACKWATCH_SNMP_COMMUNITY"
	envAuthPass  = "RACKWATCH_SNMP_AUTH_PASS"
	envPrivPass  = "RACKWATCH_SNMP_PRIV_PASS"
)

// resolve fills o's secrets from the files, or else from the environment.
// A secret given both as a flag and as a file is an error: which one was
// meant cannot be guessed.
func (f *secretFlags) resolve(o *snmppoll.Opts, getenv func(string) (string, bool)) error {
	for _, s := range []struct {
		flag, file, env string
		dst             *string
	}{
		{"--community", f.community, envCommunity, &o.Community},
		{"--auth-pass", f.auth, envAuthPass, &o.AuthPassphrase},
		{"--priv-pass", f.priv, envPrivPass, &o.PrivPassphrase},
	} {
		switch {
		case s.file != "" && *s.dst != "":
			return fmt.Errorf("%s and %s-file exclude each other", s.flag, s.flag)
		case s.file != "":
			v, err := configfile.ReadSecretFile(s.file)
			if err != nil {
				return fmt.Errorf("%s-file: %w", s.flag, err)
			}
			*s.dst = string(v)
		case *s.dst == "":
			if v, ok := getenv(s.env); ok {
				*s.dst = v
			}
		}
	}
	return nil
}

// profileNames lists "auto" and the profiles of the built-in set as
// extended by dirs.
func profileNames(dirs []string) ([]string, error) {
	if len(dirs) == 0 {
		return snmppoll.ProfileNames(), nil
	}
	ps, err := snmppoll.LoadProfiles(dirs...)
	if err != nil {
		return nil, err
	}
	names := []string{snmppoll.AutoProfile}
	for _, p := range ps {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	return names, nil
}

// redactor returns a function that blanks the passphrases out of a
// message: they were typed on the command line and must not end up in a
// terminal scrollback or a ticket. snmppoll refuses passphrases shorter
// than 8 characters (RFC 3414 §11.2), so replacing them cannot mangle
// ordinary words.
func redactor(secrets ...string) func(string) string {
	var pairs []string
	for _, s := range secrets {
		if s != "" {
			pairs = append(pairs, s, "<secret>")
		}
	}
	r := strings.NewReplacer(pairs...)
	return r.Replace
}

// writeTable prints a header naming the target, its profiles, the sample
// count and the poll's duration, then one aligned row per sample.
func writeTable(w io.Writer, target, version string, profiles []string, samples []sample.Sample, took time.Duration) {
	prof := strings.Join(profiles, ", ")
	if prof == "" {
		prof = "none"
	}
	fmt.Fprintf(w, "%s (SNMPv%s), profiles %s: %d samples in %v\n\n", target, version, prof, len(samples), roundDuration(took))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "METRIC\tLABELS\tVALUE\tUNIT")
	var b []byte
	for _, s := range samples {
		b = append(b[:0], s.Metric...)
		b = append(b, '\t')
		b = appendLabels(b, s.Labels)
		b = append(b, '\t')
		b = s.Value.AppendText(b)
		b = append(b, '\t')
		b = append(b, s.Unit...)
		b = append(b, '\n')
		tw.Write(b)
	}
	tw.Flush()
}

func roundDuration(d time.Duration) time.Duration {
	if d >= time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}

// appendLabels writes name="value" pairs; values are quoted so that a
// device's odd characters (tabs, quotes) cannot break the columns.
func appendLabels(b []byte, ls sample.Labels) []byte {
	if len(ls) == 0 {
		return append(b, '-')
	}
	for i, l := range ls {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, l.Name...)
		b = append(b, '=')
		b = strconv.AppendQuote(b, l.Value)
	}
	return b
}

// compareSamples orders by metric, then by labels, with numbers inside
// label values compared as numbers: swp2 before swp10, Gi1/0/9 before
// Gi1/0/10.
func compareSamples(a, b sample.Sample) int {
	if c := strings.Compare(a.Metric, b.Metric); c != 0 {
		return c
	}
	for i := 0; i < len(a.Labels) && i < len(b.Labels); i++ {
		if c := strings.Compare(a.Labels[i].Name, b.Labels[i].Name); c != 0 {
			return c
		}
		if c := naturalCompare(a.Labels[i].Value, b.Labels[i].Value); c != 0 {
			return c
		}
		if c := strings.Compare(a.Labels[i].Value, b.Labels[i].Value); c != 0 {
			return c // "a07" and "a7"
		}
	}
	return cmp.Compare(len(a.Labels), len(b.Labels))
}

// naturalCompare compares strings with runs of digits taken as numbers.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if c := cmp.Compare(len(na), len(nb)); c != 0 {
				return c
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}
