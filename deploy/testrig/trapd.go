package testrig

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// SnmptrapdOpts configures StartSnmptrapd.
type SnmptrapdOpts struct {
	// Config holds extra snmptrapd.conf lines (createUser, format2, ...).
	// "disableAuthorization yes" is always set, so v1 and v2c traps from
	// any community are logged.
	Config string
	// MIBDirs are added to net-snmp's default MIB search path. Relative
	// paths are taken from the test's working directory; a leading '+' or
	// '-' on the first entry is accepted and ignored.
	MIBDirs []string
	// MIBs is the -m list ("RACKWATCH-MIB", "+RACKWATCH-MIB", "ALL"). When
	// empty no MIB is loaded and OIDs print numerically with a leading dot
	// (".1.3.6.1.6.3.1.1.5.3").
	MIBs string
	// Args are extra snmptrapd options, placed before the listening address
	// (for example "-F", "%V\n").
	Args []string
}

// TrapReceiver is a running snmptrapd that logs every notification it
// receives to its output.
type TrapReceiver struct {
	Addr string // "127.0.0.1:port"
	Host string
	Port uint16

	s *service
}

// trapdReadyLine is what snmptrapd logs once its transports are open.
const trapdReadyLine = "NET-SNMP version"

// StartSnmptrapd starts net-snmp's snmptrapd on a private UDP loopback port.
func StartSnmptrapd(t testing.TB, opts SnmptrapdOpts) *TrapReceiver {
	t.Helper()
	bin := Require(t, "snmptrapd", "snmptrapd")
	s := newService(t, "snmptrapd", bin, 0o755)
	// Keep the receiver away from /var/lib/snmp.
	s.env = []string{"SNMP_PERSISTENT_DIR=" + filepath.Join(s.dir, "persist")}
	r := &TrapReceiver{Host: "127.0.0.1", s: s}
	conf := filepath.Join(s.dir, "snmptrapd.conf")
	writeFile(t, conf, "disableAuthorization yes\n"+opts.Config+"\n")
	mibArgs, err := trapdMIBArgs(opts.MIBDirs, opts.MIBs)
	if err != nil {
		t.Fatalf("testrig: snmptrapd: %v", err)
	}
	s.launch(t, func() {
		port := mustFreePort(t, "udp")
		r.Port = uint16(port)
		r.Addr = fmt.Sprintf("%s:%d", r.Host, port)
		args := []string{"-f", "-Lo", "-C", "-c", conf}
		args = append(args, mibArgs...)
		args = append(args, opts.Args...)
		s.args = append(args, "udp:"+r.Addr)
		s.ready = func(context.Context) error {
			if !strings.Contains(s.output(), trapdReadyLine) {
				return errors.New("snmptrapd has not logged its start-up line yet")
			}
			return nil
		}
	})
	return r
}

func trapdMIBArgs(dirs []string, mibs string) ([]string, error) {
	if mibs == "" {
		return []string{"-m", "", "-On"}, nil
	}
	args := []string{"-m", mibs}
	if len(dirs) == 0 {
		return args, nil
	}
	abs := make([]string, len(dirs))
	for i, d := range dirs {
		if i == 0 {
			d = strings.TrimLeft(d, "+-")
		}
		a, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("testrig: MIB dir %q: %w", d, err)
		}
		abs[i] = a
	}
	// The leading '+' adds the directories to the default search path
	// instead of replacing it, see snmpcmd(1) -M.
	return append(args, "-M", "+"+strings.Join(abs, ":")), nil
}

// Output returns everything snmptrapd has logged so far.
func (r *TrapReceiver) Output() string { return r.s.output() }

// WaitFor waits until the output contains substr and returns the first line
// that contains it. With the default format a notification is logged as a
// header line followed by one line of tab-separated varbinds, so the
// returned line holds every varbind when substr matches one of them. It
// fails the test, showing the output, if substr does not appear within
// timeout.
func (r *TrapReceiver) WaitFor(t testing.TB, substr string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out := r.s.output()
		i := strings.Index(out, substr)
		late := time.Now().After(deadline)
		if i >= 0 {
			start := strings.LastIndexByte(out[:i], '\n') + 1
			if end := strings.IndexByte(out[i:], '\n'); end >= 0 {
				return out[start : i+end]
			}
			// The line is still being written.
			if late {
				return out[start:]
			}
		} else if late {
			t.Fatalf("testrig: snmptrapd did not log %q within %v; its output:\n%s", substr, timeout, out)
		}
		time.Sleep(pollInterval)
	}
}

// Stop stops snmptrapd.
func (r *TrapReceiver) Stop() { r.s.stop() }
