// Package grafana_test checks the shipped Grafana dashboards against the
// schema the collector writes to InfluxDB. Grafana itself is not needed:
// every panel's, template variable's and annotation's InfluxQL query is
// expanded the way Grafana would expand it and run against a real InfluxDB
// holding a scenario written through the collector's own writer
// (collector/influx). InfluxDB answers a query that names a measurement,
// field or tag that does not exist with an empty result, not an error, so
// each query must also return data.
package grafana_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rackwatch/rackwatch/collector/decide"
	"github.com/rackwatch/rackwatch/collector/influx"
	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/edgenode"
	"github.com/rackwatch/rackwatch/edge/sample"
	"github.com/rackwatch/rackwatch/edge/snmppoll"
)

// The scenario: ten minutes of two racks, three nodes (in every state), two
// edges and a switch, one point per series every 10 s.
var (
	start = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	steps = 60
	step  = 10 * time.Second
	end   = start.Add(time.Duration(steps) * step)
	// interval is what Grafana would pick for $__interval.
	interval = 10 * time.Second
)

// values are the template variables' values a user would pick; each must
// be among the values the variable's own query returns.
var values = map[string]string{
	"rack":   "r1",
	"node":   "node-1",
	"edge":   "edge-r1",
	"switch": "sw-r1",
	"port":   "Gi1/0/1",
}

// Grafana's built-in annotation source needs no query.
const builtinDatasource = "grafana"

type dataSourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type target struct {
	RefID        string         `json:"refId"`
	Datasource   *dataSourceRef `json:"datasource"`
	Query        string         `json:"query"`
	RawQuery     bool           `json:"rawQuery"`
	ResultFormat string         `json:"resultFormat"`
	Alias        string         `json:"alias"`
}

type panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource *dataSourceRef `json:"datasource"`
	Targets    []target       `json:"targets"`
	Panels     []panel        `json:"panels"` // a row's
}

type variable struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Datasource *dataSourceRef `json:"datasource"`
	Query      any            `json:"query"` // a string, or {"query": ...} in newer Grafana
	Multi      bool           `json:"multi"`
	IncludeAll bool           `json:"includeAll"`
}

type annotation struct {
	Name       string         `json:"name"`
	BuiltIn    int            `json:"builtIn"`
	Datasource *dataSourceRef `json:"datasource"`
	Query      string         `json:"query"`
	Target     *target        `json:"target"`
	TextColumn string         `json:"textColumn"`
	TagsColumn string         `json:"tagsColumn"`
}

type dashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Annotations   struct {
		List []annotation `json:"list"`
	} `json:"annotations"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

// provisionedDatasource reads the data source the provisioning file
// defines.
func provisionedDatasource(t *testing.T) (uid, db string) {
	t.Helper()
	var f struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name      string `yaml:"name"`
			UID       string `yaml:"uid"`
			Type      string `yaml:"type"`
			Access    string `yaml:"access"`
			URL       string `yaml:"url"`
			IsDefault bool   `yaml:"isDefault"`
			Editable  bool   `yaml:"editable"`
			JSONData  struct {
				Version  string `yaml:"version"`
				DBName   string `yaml:"dbName"`
				HTTPMode string `yaml:"httpMode"`
			} `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	decodeYAML(t, filepath.Join("provisioning", "datasources", "rackwatch.yaml"), &f)
	if f.APIVersion != 1 || len(f.Datasources) != 1 {
		t.Fatalf("datasources: apiVersion %d and %d data sources, want 1 and 1", f.APIVersion, len(f.Datasources))
	}
	d := f.Datasources[0]
	if d.UID == "" || d.Type != "influxdb" || d.Access != "proxy" || d.JSONData.Version != "InfluxQL" || d.JSONData.DBName == "" {
		t.Fatalf("datasource %+v: want a uid, type influxdb, access proxy, InfluxQL and a database", d)
	}
	if u, err := url.Parse(d.URL); err != nil || u.Host == "" {
		t.Fatalf("datasource url %q: %v", d.URL, err)
	}
	return d.UID, d.JSONData.DBName
}

func decodeYAML(t *testing.T, path string, v any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestDashboardProvider(t *testing.T) {
	var f struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name                  string `yaml:"name"`
			Type                  string `yaml:"type"`
			OrgID                 int    `yaml:"orgId"`
			Folder                string `yaml:"folder"`
			DisableDeletion       bool   `yaml:"disableDeletion"`
			AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
			UpdateIntervalSeconds int    `yaml:"updateIntervalSeconds"`
			Options               struct {
				Path                      string `yaml:"path"`
				FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	decodeYAML(t, filepath.Join("provisioning", "dashboards", "rackwatch.yaml"), &f)
	if f.APIVersion != 1 || len(f.Providers) != 1 {
		t.Fatalf("apiVersion %d and %d providers, want 1 and 1", f.APIVersion, len(f.Providers))
	}
	if p := f.Providers[0]; p.Type != "file" || !filepath.IsAbs(p.Options.Path) {
		t.Errorf("provider %+v: want type file and an absolute path", p)
	}
}

func loadDashboards(t *testing.T) map[string]dashboard {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("dashboards", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("%d dashboards, want at least the 4 documented in README.md", len(files))
	}
	out := map[string]dashboard{}
	uids := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		dec := json.NewDecoder(strings.NewReader(string(b)))
		if err := dec.Decode(&d); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		// Grafana 10.0 writes schema version 38; the file provider migrates
		// older ones silently, which hides what the file really says.
		if d.UID == "" || d.Title == "" || d.SchemaVersion < 38 {
			t.Errorf("%s: uid %q, title %q, schemaVersion %d: want a uid, a title and a schema of Grafana 10 or later", f, d.UID, d.Title, d.SchemaVersion)
		}
		if other, ok := uids[d.UID]; ok {
			t.Errorf("%s and %s share the uid %q", f, other, d.UID)
		}
		uids[d.UID] = f
		out[f] = d
	}
	return out
}

func TestDashboards(t *testing.T) {
	uid, db := provisionedDatasource(t)
	dashboards := loadDashboards(t)
	rig := testrig.StartInfluxDB(t)
	rig.CreateDatabase(t, db)
	writeScenario(t, rig.URL, db)
	q := querier{url: rig.URL, db: db}

	for file, d := range dashboards {
		t.Run(filepath.Base(file), func(t *testing.T) {
			known := func(where string, refs ...*dataSourceRef) bool {
				for _, r := range refs {
					if r == nil {
						continue
					}
					if r.UID != uid || r.Type != "influxdb" {
						t.Errorf("%s: data source %+v, want the provisioned {influxdb %s}", where, *r, uid)
						return false
					}
					return true
				}
				t.Errorf("%s: no data source", where)
				return false
			}

			vars := map[string]variable{}
			for _, v := range d.Templating.List {
				vars[v.Name] = v
			}
			for _, v := range d.Templating.List {
				where := "variable " + v.Name
				if v.Type != "query" {
					t.Errorf("%s: type %q, want query", where, v.Type)
					continue
				}
				if !known(where, v.Datasource) {
					continue
				}
				if _, ok := values[v.Name]; !ok {
					t.Errorf("%s: the scenario has no value for it", where)
					continue
				}
				res, ok := q.run(t, where, variableQuery(v), vars)
				if !ok {
					continue
				}
				var got []string
				for _, s := range res.Series {
					for _, row := range s.Values {
						if len(row) == 2 {
							got = append(got, fmt.Sprint(row[1]))
						}
					}
				}
				if !slices.Contains(got, values[v.Name]) {
					t.Errorf("%s: values %v lack the scenario's %q", where, got, values[v.Name])
				}
			}

			for _, a := range d.Annotations.List {
				where := "annotation " + a.Name
				if a.BuiltIn == 1 && a.Datasource != nil && a.Datasource.Type == builtinDatasource {
					continue
				}
				if !known(where, a.Datasource) {
					continue
				}
				query := a.Query
				if a.Target != nil && a.Target.Query != "" {
					query = a.Target.Query
				}
				res, ok := q.run(t, where, query, vars)
				if !ok {
					continue
				}
				cols := res.columns()
				for _, c := range append([]string{a.TextColumn}, strings.Split(a.TagsColumn, ",")...) {
					if c = strings.TrimSpace(c); c != "" && !cols[c] {
						t.Errorf("%s: column %q (text or tags) is not in the answer, which has %v", where, c, cols)
					}
				}
			}

			n := 0
			var walk func(ps []panel, parent string)
			walk = func(ps []panel, parent string) {
				for _, p := range ps {
					where := fmt.Sprintf("%spanel %d %q", parent, p.ID, p.Title)
					if p.Type == "row" {
						if len(p.Targets) > 0 {
							t.Errorf("%s: a row with queries", where)
						}
						walk(p.Panels, where+" / ")
						continue
					}
					n++
					if len(p.Targets) == 0 {
						t.Errorf("%s: no query", where)
					}
					for _, tg := range p.Targets {
						w := where + " query " + tg.RefID
						if !known(w, tg.Datasource, p.Datasource) {
							continue
						}
						if !tg.RawQuery || strings.TrimSpace(tg.Query) == "" {
							t.Errorf("%s: want a raw InfluxQL query, got rawQuery %v, %q", w, tg.RawQuery, tg.Query)
							continue
						}
						if res, ok := q.run(t, w, tg.Query, vars); ok {
							checkAlias(t, w, tg.Alias, res)
						}
					}
				}
			}
			walk(d.Panels, "")
			if n == 0 {
				t.Error("no panels")
			}
		})
	}
}

func variableQuery(v variable) string {
	switch q := v.Query.(type) {
	case string:
		return q
	case map[string]any:
		s, _ := q["query"].(string)
		return s
	}
	return ""
}

// macro matches what Grafana expands in an InfluxQL query: $name,
// ${name} (with an optional :format) and the old [[name]].
var macro = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]`)

// regexSpecial is what Grafana's InfluxDB data source escapes in the value
// of a multi-value or include-all variable.
var regexSpecial = regexp.MustCompile(`[\\^$*+?.()|\[\]{}/]`)

// expand expands Grafana's macros and template variables in q the way the
// InfluxDB data source does, for the scenario's time range and values.
func expand(q string, vars map[string]variable) (string, error) {
	var errs []string
	out := macro.ReplaceAllStringFunc(q, func(m string) string {
		sub := macro.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		switch name {
		case "timeFilter", "__timeFilter":
			return fmt.Sprintf("time >= %dms and time <= %dms", start.UnixMilli(), end.UnixMilli())
		case "__interval", "interval":
			return fmt.Sprintf("%ds", int(interval.Seconds()))
		case "__interval_ms":
			return fmt.Sprint(interval.Milliseconds())
		}
		v, ok := vars[name]
		val, have := values[name]
		if !ok || !have {
			errs = append(errs, m)
			return m
		}
		if v.Multi || v.IncludeAll {
			return regexSpecial.ReplaceAllString(val, `\$0`)
		}
		return val
	})
	if errs != nil {
		return "", fmt.Errorf("unknown macros or variables %v", errs)
	}
	return out, nil
}

type querier struct{ url, db string }

type series struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values"`
}

type result struct {
	Series []series `json:"series"`
	Error  string   `json:"error"`
}

// columns returns the columns of the answer that carry at least one value.
func (r result) columns() map[string]bool {
	cols := map[string]bool{}
	for _, s := range r.Series {
		for _, row := range s.Values {
			for i, v := range row {
				if v != nil && i < len(s.Columns) {
					cols[s.Columns[i]] = true
				}
			}
		}
	}
	return cols
}

// run expands and runs q, and reports an error unless InfluxDB answers
// with at least one series in which every column has a value somewhere: a
// field or tag that does not exist comes back as an empty answer, or as a
// column of nulls next to fields that do exist.
func (qr querier) run(t *testing.T, where, q string, vars map[string]variable) (result, bool) {
	t.Helper()
	expanded, err := expand(q, vars)
	if err != nil {
		t.Errorf("%s: %v in %s", where, err, q)
		return result{}, false
	}
	u := qr.url + "/query?" + url.Values{"db": {qr.db}, "q": {expanded}, "epoch": {"ms"}}.Encode()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	var ans struct {
		Results []result `json:"results"`
		Error   string   `json:"error"`
	}
	if err := json.Unmarshal(b, &ans); err != nil {
		t.Errorf("%s: %s: decode %q: %v", where, expanded, b, err)
		return result{}, false
	}
	if resp.StatusCode != http.StatusOK || ans.Error != "" || len(ans.Results) != 1 || ans.Results[0].Error != "" {
		t.Errorf("%s: %s: %s: %s", where, expanded, resp.Status, b)
		return result{}, false
	}
	res := ans.Results[0]
	if len(res.Series) == 0 {
		t.Errorf("%s: no data for %s", where, expanded)
		return res, false
	}
	cols := res.columns()
	for _, s := range res.Series {
		for _, c := range s.Columns {
			if !cols[c] {
				t.Errorf("%s: column %q has no value in %s", where, c, expanded)
				return res, false
			}
		}
		// GROUP BY a tag that does not exist makes one series with the
		// tag empty.
		for k, v := range s.Tags {
			if v == "" {
				t.Errorf("%s: grouped by tag %q, which has no value in %s", where, k, expanded)
				return res, false
			}
		}
	}
	return res, true
}

// aliasTags matches the tags a target's alias names: $tag_name or
// [[tag_name]].
var aliasTags = regexp.MustCompile(`\$tag_(\w+)|\[\[tag_(\w+)\]\]`)

// checkAlias reports an alias that names a tag the answer is not grouped
// by: Grafana would show the placeholder itself as the series name.
func checkAlias(t *testing.T, where, alias string, res result) {
	t.Helper()
	for _, m := range aliasTags.FindAllStringSubmatch(alias, -1) {
		tag := m[1] + m[2]
		for _, s := range res.Series {
			if _, ok := s.Tags[tag]; !ok {
				t.Errorf("%s: alias %q names tag %q, but the answer is grouped by %v", where, alias, tag, s.Tags)
				return
			}
		}
	}
}

// writeScenario writes the scenario through the collector's writer, with
// the calls the collector makes: each decoded sample (WriteSample), each
// node's state after a decision pass (WriteNode), each birth and death
// (WriteEdge) and each decision (WriteDecision, with the text the
// collector records).
func writeScenario(t *testing.T, url, db string) {
	t.Helper()
	s, err := influx.New(&influx.Opts{URL: url, Database: db, FlushInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	type node struct {
		name, rack, edge, bmc, server string
	}
	nodes := []node{
		{"node-1", "r1", "edge-r1", "bmc-1", "s1"},
		{"node-2", "r1", "edge-r1", "bmc-2", "s2"},
		{"node-3", "r2", "edge-r2", "bmc-3", "s3"},
	}
	racks := map[string]string{"r1": "edge-r1", "r2": "edge-r2"}
	record := func(d decide.Decision) {
		s.WriteDecision(influx.Decision{TS: d.At, Node: d.Node, Rack: d.Rack, Backend: d.Backend, Server: d.Server,
			Action: string(d.Action), Reason: d.String()})
	}
	for _, e := range []string{"edge-r1", "edge-r2"} {
		s.WriteEdge(start, e, true)
	}
	nan := math.NaN()
	for i := range steps {
		ts := start.Add(time.Duration(i) * step)
		f := float64(i)
		for rack, edge := range racks {
			s.WriteSample(edge, "inlet-"+rack, sample.Sample{Metric: sample.TemperatureCelsius, Labels: sample.L("sensor", "inlet"),
				Value: sample.Float(22 + f/10), Unit: "celsius", TS: ts})
			s.WriteSample(edge, "edge", sample.Sample{Metric: edgenode.EdgeQueued, Value: sample.Uint(uint64(i%7) * 10), TS: ts})
			s.WriteSample(edge, "edge", sample.Sample{Metric: edgenode.EdgeDropped, Value: sample.Uint(uint64(i / 20)), TS: ts})
			s.WriteSample(edge, "edge", sample.Sample{Metric: edgenode.EdgePublished, Value: sample.Uint(uint64(i) * 120), TS: ts})
			s.WriteSample(edge, "edge", sample.Sample{Metric: edgenode.EdgeSourceUp, Labels: sample.L("source", "inlet-"+rack),
				Value: sample.Bool(i%15 != 0), TS: ts})
		}
		for p := 1; p <= 3; p++ {
			ifname := fmt.Sprintf("Gi1/0/%d", p)
			l := sample.L("ifname", ifname)
			// Port 1 flaps twice; its error counters grow fastest.
			up := p != 1 || (i%20 != 10 && i%20 != 11)
			lastChange := 0.0
			if p == 1 {
				lastChange = float64(((i+8)/20)*200) + 100
			}
			for _, smp := range []sample.Sample{
				{Metric: sample.IfInErrors, Labels: l, Value: sample.Uint(uint64(i * p * 3)), TS: ts},
				{Metric: sample.IfOutErrors, Labels: l, Value: sample.Uint(uint64(i * p)), TS: ts},
				{Metric: sample.IfFCSErrors, Labels: l, Value: sample.Uint(uint64(i * p * 2)), TS: ts},
				{Metric: sample.IfOperUp, Labels: l, Value: sample.Bool(up), TS: ts},
				{Metric: snmppoll.IfLastChange, Labels: l, Value: sample.Float(lastChange), TS: ts},
			} {
				s.WriteSample("edge-r1", "sw-r1", smp)
			}
		}
		for k, n := range nodes {
			cpu := 55 + f/2 + float64(k)
			s.WriteSample(n.edge, n.bmc, sample.Sample{Metric: sample.TemperatureCelsius, Labels: sample.L("sensor", "CPU1 Temp"),
				Value: sample.Float(cpu), Unit: "celsius", TS: ts})
			st := influx.NodeState{TS: ts, Node: n.name, Rack: n.rack, State: influx.NodeOK, WeightPct: 100,
				CPUTemp: cpu, CPUTempLimit: 95, InletTemp: 22 + f/10, ThrottleRate: 0, FCSRate: 0, Flaps: 0,
				Latency: 0.020 + f/1000, Baseline: 0.020, BackendP99: 0.050}
			switch {
			case n.name == "node-1" && i >= 35:
				st.State, st.WeightPct, st.ThrottleRate = influx.NodeDrained, 0, 2
			case n.name == "node-1" && i >= 20:
				st.State, st.WeightPct, st.ThrottleRate, st.FCSRate, st.Flaps = influx.NodeShed, 50, 1.5, 0.4, 2
			case n.name == "node-3" && i < 6:
				st = influx.NodeState{TS: ts, Node: n.name, Rack: n.rack, State: influx.NodeNoData, WeightPct: 100,
					CPUTemp: nan, CPUTempLimit: nan, InletTemp: nan, ThrottleRate: nan, FCSRate: nan, Flaps: nan,
					Latency: nan, Baseline: nan, BackendP99: nan}
			case n.name == "node-3" && i >= 30:
				st.State = influx.NodePinned
			case n.name == "node-2" && i >= 45 && i < 50:
				st.State, st.WeightPct = influx.NodeRestoring, 50
			}
			s.WriteNode(st)
			d := decide.Decision{At: ts, Node: n.name, Rack: n.rack, LB: "lb1", Backend: "web", Server: n.server,
				Taken: true, Actor: "engine"}
			switch {
			case n.name == "node-1" && i == 20:
				d.Action, d.From, d.To, d.Cause = decide.ActShed, decide.Full, decide.Shed, "CPU throttling with latency above baseline"
				d.Evidence = []decide.Evidence{{Signal: "throttle_rate", Value: 1.5, Threshold: 0.1, Unit: "events/s", Firing: true}}
				record(d)
			case n.name == "node-1" && i == 35:
				d.Action, d.From, d.To, d.Cause = decide.ActDrain, decide.Shed, decide.Drained, "still throttling after shedding"
				record(d)
			case n.name == "node-3" && i == 30:
				d.Action, d.Cause, d.Actor = decide.ActPinned, "pinned by an operator: maintenance", "ops"
				record(d)
			}
		}
		if i == 30 {
			s.WriteEdge(ts, "edge-r2", false)
		}
		if i == 42 {
			s.WriteEdge(ts, "edge-r2", true)
		}
	}
	s.Close()
	if st := s.Stats(); st.Dropped != 0 || st.Errors != 0 || st.RetryDropped != 0 {
		t.Fatalf("writing the scenario: %+v", st)
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]variable{
		"node": {Name: "node"},
		"port": {Name: "port", Multi: true},
	}
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{`WHERE $timeFilter`, fmt.Sprintf("WHERE time >= %dms and time <= %dms", start.UnixMilli(), end.UnixMilli()), true},
		{`GROUP BY time($__interval), time($interval) LIMIT $__interval_ms`, `GROUP BY time(10s), time(10s) LIMIT 10000`, true},
		{`"node" =~ /^$node$/ AND "node" = '${node}' AND [[node]]`, `"node" =~ /^node-1$/ AND "node" = 'node-1' AND node-1`, true},
		{`"ifname" =~ /^$port$/`, `"ifname" =~ /^Gi1\/0\/1$/`, true},
		{`"rack" =~ /^$rack$/`, "", false},
		{`$__from`, "", false},
	} {
		got, err := expand(tc.in, vars)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("expand(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
