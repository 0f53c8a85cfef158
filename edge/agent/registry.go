package agent

import (
	"reflect"

	"github.com/rackwatch/rackwatch/edge/config"
)

// Entry is one configured source, not built yet.
type Entry struct {
	// Kind is the kind of source: "i2c", "snmp", "host".
	Kind string
	// Device is the Sparkplug device name, unique among the entries.
	Device string
	// Config is everything the source is built from. Two entries of the
	// same kind and device with equal Config (reflect.DeepEqual) build
	// the same source: a reload keeps such a source running.
	Config any
	// Build builds the source, taking shared resources (I2C buses) from b.
	Build func(b *Builder) (Source, error)
}

// same reports whether e and o describe the same source.
func (e *Entry) same(o *Entry) bool {
	return e.Kind == o.Kind && e.Device == o.Device && reflect.DeepEqual(e.Config, o.Config)
}

// kind turns one section of the configuration into entries.
type kind struct {
	name    string
	entries func(cfg *config.Config) []Entry
}

// kinds is filled by the init function of each kind's file, in file name
// order, and never changed afterwards: adding a kind of source is adding
// one file that calls register.
var kinds []kind

func register(name string, entries func(cfg *config.Config) []Entry) {
	kinds = append(kinds, kind{name: name, entries: entries})
}

// Kinds lists the registered kinds of source.
func Kinds() []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = k.name
	}
	return out
}

// Entries lists the sources cfg configures, kind by kind in registration
// order, each kind's in configuration order.
func Entries(cfg *config.Config) []Entry {
	var out []Entry
	for _, k := range kinds {
		out = append(out, k.entries(cfg)...)
	}
	return out
}

// Plan is what a reload does to the running sources, by device name, each
// list in configuration order (Remove in the running order).
type Plan struct {
	// Keep are unchanged: the running source stays as it is.
	Keep []string
	// Restart changed: the running source is closed and rebuilt.
	Restart []string
	// Remove are no longer configured: closed.
	Remove []string
	// Add are new: built and started.
	Add []string
}

// Diff compares the running entries with the wanted ones. A source is
// identified by its device name; it is kept when its kind and Config are
// unchanged, and restarted otherwise.
func Diff(running, wanted []Entry) Plan {
	byDevice := make(map[string]*Entry, len(running))
	for i := range running {
		byDevice[running[i].Device] = &running[i]
	}
	var p Plan
	seen := make(map[string]bool, len(wanted))
	for i := range wanted {
		w := &wanted[i]
		seen[w.Device] = true
		switch r, ok := byDevice[w.Device]; {
		case !ok:
			p.Add = append(p.Add, w.Device)
		case r.same(w):
			p.Keep = append(p.Keep, w.Device)
		default:
			p.Restart = append(p.Restart, w.Device)
		}
	}
	for _, r := range running {
		if !seen[r.Device] {
			p.Remove = append(p.Remove, r.Device)
		}
	}
	return p
}

// Changed reports whether the plan changes any source.
func (p Plan) Changed() bool { return len(p.Restart)+len(p.Remove)+len(p.Add) > 0 }
