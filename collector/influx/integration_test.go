package influx

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/deploy/testrig"
	"github.com/rackwatch/rackwatch/edge/sample"
)

// queryRows runs an InfluxQL query and returns the rows of its first
// statement, each as column name to value, grouped by series name. Numbers
// stay json.Number so that integers are compared exactly.
func queryRows(t *testing.T, i *testrig.InfluxDB, db, q string) map[string][]map[string]any {
	t.Helper()
	var r struct {
		Results []struct {
			Series []struct {
				Name    string   `json:"name"`
				Columns []string `json:"columns"`
				Values  [][]any  `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	dec := json.NewDecoder(bytes.NewReader(i.Query(t, db, q)))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("%s: decode answer: %v", q, err)
	}
	out := map[string][]map[string]any{}
	if len(r.Results) == 0 {
		return out
	}
	for _, s := range r.Results[0].Series {
		for _, v := range s.Values {
			row := map[string]any{}
			for k, c := range s.Columns {
				row[c] = v[k]
			}
			out[s.Name] = append(out[s.Name], row)
		}
	}
	return out
}

func TestInfluxDB(t *testing.T) {
	influx := testrig.StartInfluxDB(t)
	influx.CreateDatabase(t, "rackwatch")

	s, err := New(&Opts{
		URL: influx.URL, Database: "rackwatch", RetentionPolicy: "autogen",
		// Authentication is off: InfluxDB accepts and ignores credentials.
		Username: "rw", Password: "secret",
		FlushInterval: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s.WriteSample("edge-r12", "tmp102-48", sample.Sample{
		Metric: sample.TemperatureCelsius, Labels: sample.L("sensor", "inlet"),
		Value: sample.Float(23.5), Unit: "celsius", TS: ts,
	})
	s.WriteSample("edge-r12", "sw-r12", sample.Sample{
		Metric: sample.IfInErrors, Labels: sample.L("ifname", "Gi1/0/1"),
		Value: sample.Uint(math.MaxInt64), Unit: "packets", TS: ts,
	})
	// Not representable in InfluxDB 1.8: dropped, not written.
	s.WriteSample("edge-r12", "sw-r12", sample.Sample{
		Metric: sample.IfInErrors, Labels: sample.L("ifname", "Gi1/0/2"),
		Value: sample.Uint(math.MaxUint64), Unit: "packets", TS: ts,
	})
	s.WriteSample("edge-r12", "sw-r12", sample.Sample{
		Metric: sample.IfOperUp, Labels: sample.L("ifname", "Gi1/0/1"),
		Value: sample.Bool(true), Unit: "bool", TS: ts,
	})
	s.WriteDecision(Decision{
		TS: ts.Add(time.Second), Node: "node-7", Backend: "web", Server: "s7",
		Action: "drain", Reason: "inlet 41.5 °C > 40 °C",
	})
	s.Close()
	if s.Errors() != 0 || s.Dropped() != 1 {
		t.Errorf("Errors() = %d, Dropped() = %d, want 0 and 1", s.Errors(), s.Dropped())
	}

	got := map[string][]map[string]any{}
	for _, m := range []string{"temperature_celsius", "if_in_errors_total", "if_oper_up", "rackwatch_decision"} {
		for name, rows := range queryRows(t, influx, "rackwatch", `SELECT * FROM "`+m+`"`) {
			got[name] = rows
		}
	}
	want := map[string][]map[string]any{
		"temperature_celsius": {{
			"time": "2026-11-26T12:00:00Z", "value": json.Number("23.5"),
			"sensor": "inlet", "edge": "edge-r12", "device": "tmp102-48",
		}},
		"if_in_errors_total": {{
			"time": "2026-11-26T12:00:00Z", "value": json.Number("9223372036854775807"),
			"ifname": "Gi1/0/1", "edge": "edge-r12", "device": "sw-r12",
		}},
		"if_oper_up": {{
			"time": "2026-11-26T12:00:00Z", "value": true,
			"ifname": "Gi1/0/1", "edge": "edge-r12", "device": "sw-r12",
		}},
		"rackwatch_decision": {{
			"time": "2026-11-26T12:00:01Z", "value": json.Number("1"), "reason": "inlet 41.5 °C > 40 °C",
			"node": "node-7", "backend": "web", "server": "s7", "action": "drain",
		}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SELECT *:\ngot  %v\nwant %v", got, want)
	}

	// InfluxDB's own record of the field types: the kinds must survive.
	types := map[string]string{}
	for m, rows := range queryRows(t, influx, "rackwatch", "SHOW FIELD KEYS") {
		for _, r := range rows {
			types[m+"."+r["fieldKey"].(string)] = r["fieldType"].(string)
		}
	}
	wantTypes := map[string]string{
		"temperature_celsius.value": "float",
		"if_in_errors_total.value":  "integer",
		"if_oper_up.value":          "boolean",
		"rackwatch_decision.reason": "string",
		"rackwatch_decision.value":  "integer",
	}
	if !reflect.DeepEqual(types, wantTypes) {
		t.Errorf("SHOW FIELD KEYS = %v, want %v", types, wantTypes)
	}

	// The annotation query documented in doc.go.
	ann := queryRows(t, influx, "rackwatch", `SELECT "reason" FROM "rackwatch_decision" WHERE time > '2026-11-26T00:00:00Z' GROUP BY "node", "action", "server"`)
	if rows := ann["rackwatch_decision"]; len(rows) != 1 || rows[0]["reason"] != "inlet 41.5 °C > 40 °C" {
		t.Errorf("annotation query = %v", ann)
	}
}

// TestInfluxDBMissingDatabase checks that a write InfluxDB refuses is
// counted with InfluxDB's reason, and that nothing blocks.
func TestInfluxDBMissingDatabase(t *testing.T) {
	influx := testrig.StartInfluxDB(t)
	var logs testrig.Buffer
	s, err := New(&Opts{URL: influx.URL, Database: "nodb", FlushInterval: 10 * time.Millisecond, Logger: newTestLogger(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	s.WriteSample("e", "d", sample.Sample{Metric: "m", Value: sample.Float(1), TS: time.Now()})
	s.Close()
	if s.Errors() != 1 {
		t.Errorf("Errors() = %d, want 1", s.Errors())
	}
	if !bytes.Contains([]byte(logs.String()), []byte(`database not found`)) {
		t.Errorf("log does not carry InfluxDB's reason:\n%s", logs.String())
	}
}

// TestInfluxDBDownThenBack stops influxd, writes fewer points than the
// retry buffer holds, starts influxd again on the same port and reads
// every point back.
func TestInfluxDBDownThenBack(t *testing.T) {
	influx := testrig.StartInfluxDB(t)
	influx.CreateDatabase(t, "rackwatch")
	s, err := New(&Opts{
		URL: influx.URL, Database: "rackwatch", BatchSize: 100, FlushInterval: 10 * time.Millisecond,
		RetryBuffer: 1000, RetryInterval: 50 * time.Millisecond, MaxRetryInterval: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	write := func(from, to int) {
		for i := from; i < to; i++ {
			s.WriteSample("edge-r12", "tmp102-48", sample.Sample{
				Metric: sample.TemperatureCelsius, Labels: sample.L("sensor", "inlet"),
				Value: sample.Float(20 + float64(i)/100), TS: t0.Add(time.Duration(i) * time.Second),
			})
		}
	}
	wait := func(what string, ok func(Stats) bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !ok(s.Stats()) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not after 20s: %+v", what, s.Stats())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	write(0, 100)
	deadline := time.Now().Add(20 * time.Second)
	for {
		rows := queryRows(t, influx, "rackwatch", `SELECT count("value") FROM "temperature_celsius"`)["temperature_celsius"]
		if len(rows) == 1 && rows[0]["count"] == json.Number("100") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first 100 points not written after 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	influx.Stop()
	// 950 points in batches of at most 100: within the bound of 1000.
	write(100, 1050)
	wait("all failed writes buffered", func(st Stats) bool { return st.RetryBuffered == 950 })
	influx.Restart(t)
	wait("buffer written", func(st Stats) bool { return st.RetryBuffered == 0 })
	s.Close()
	st := s.Stats()
	if st.Accepted != 1050 || st.Dropped != 0 || st.RetryDropped != 0 || st.Retried != 950 || st.Errors == 0 {
		t.Errorf("Stats() = %+v, want 1050 accepted, 950 retried, nothing dropped", st)
	}
	rows := queryRows(t, influx, "rackwatch", `SELECT count("value") FROM "temperature_celsius"`)
	if got := rows["temperature_celsius"]; len(got) != 1 || got[0]["count"] != json.Number("1050") {
		t.Errorf("count = %v, want 1050 points read back", got)
	}
}

// TestInfluxDBDownBeyondBound writes more than the retry buffer holds while
// influxd is down: what fit is written once it is back, the rest is
// counted, and nothing else is lost.
func TestInfluxDBDownBeyondBound(t *testing.T) {
	influx := testrig.StartInfluxDB(t)
	influx.CreateDatabase(t, "rackwatch")
	s, err := New(&Opts{
		URL: influx.URL, Database: "rackwatch", BatchSize: 100, FlushInterval: 10 * time.Millisecond,
		RetryBuffer: 300, RetryInterval: 50 * time.Millisecond, MaxRetryInterval: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	influx.Stop()
	for i := range 1000 {
		s.WriteSample("e", "d", sample.Sample{Metric: "m", Value: sample.Int(int64(i)), TS: t0.Add(time.Duration(i) * time.Second)})
	}
	deadline := time.Now().Add(20 * time.Second)
	for st := s.Stats(); st.RetryBuffered+int(st.RetryDropped) != 1000; st = s.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("not all failed after 20s: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	influx.Restart(t)
	s.Close()
	st := s.Stats()
	if st.Retried+st.RetryDropped != 1000 || st.RetryDropped < 700 || st.Retried == 0 {
		t.Errorf("Stats() = %+v, want at most 300 retried and the rest counted as dropped", st)
	}
	rows := queryRows(t, influx, "rackwatch", `SELECT count("value") FROM "m"`)
	if got := rows["m"]; len(got) != 1 || got[0]["count"] != json.Number(fmt.Sprint(st.Retried)) {
		t.Errorf("count = %v, want the %d retried points", got, st.Retried)
	}
}
