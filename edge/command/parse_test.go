package command

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rackwatch/rackwatch/edge/sparkplug"
	pb "github.com/rackwatch/rackwatch/edge/sparkplug/sparkplugpb"
	"google.golang.org/protobuf/proto"
)

func ms(n int64) time.Time { return time.UnixMilli(n).UTC() }

func TestParseJSONGood(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want Command
	}{
		{
			name: "fan duty, the documented example",
			in:   `{"id":"c-7f3a","version":12,"kind":"fan_duty","device":"fans","channel":3,"duty":0.8,"expires":1795694400000,"issued":1795694340000}`,
			want: Command{ID: "c-7f3a", Version: 12, Kind: KindFanDuty, Device: "fans", Channel: 3, Duty: 0.8,
				Expires: ms(1795694400000), Issued: ms(1795694340000)},
		},
		{
			name: "fan duty bounds, keys in any order, whitespace",
			in:   " {\"duty\": 0, \"channel\": 6, \"expires\": 1, \"device\": \"f\", \"kind\": \"fan_duty\", \"version\": 18446744073709551615, \"id\": \"x\"}\n",
			want: Command{ID: "x", Version: 1<<64 - 1, Kind: KindFanDuty, Device: "f", Channel: 6, Duty: 0, Expires: ms(1)},
		},
		{
			name: "fan duty written as an exponent",
			in:   `{"id":"a","version":0,"kind":"fan_duty","device":"fans","channel":1,"duty":1e0,"expires":5}`,
			want: Command{ID: "a", Kind: KindFanDuty, Device: "fans", Channel: 1, Duty: 1, Expires: ms(5)},
		},
		{
			name: "sensor disable",
			in:   `{"id":"s1","version":3,"kind":"sensor_enable","device":"inlet","enabled":false}`,
			want: Command{ID: "s1", Version: 3, Kind: KindSensorEnable, Device: "inlet", Enabled: false},
		},
		{
			name: "sensor enable with expiry",
			in:   `{"id":"s2","version":4,"kind":"sensor_enable","device":"inlet","enabled":true,"expires":1795694400000}`,
			want: Command{ID: "s2", Version: 4, Kind: KindSensorEnable, Device: "inlet", Enabled: true, Expires: ms(1795694400000)},
		},
		{
			name: "poll period",
			in:   `{"id":"p","version":1,"kind":"poll_period","device":"switch-1","period":"1m30s"}`,
			want: Command{ID: "p", Version: 1, Kind: KindPollPeriod, Device: "switch-1", Period: 90 * time.Second},
		},
		{
			name: "poll period bounds",
			in:   `{"id":"p","version":1,"kind":"poll_period","device":"d","period":"100ms"}`,
			want: Command{ID: "p", Version: 1, Kind: KindPollPeriod, Device: "d", Period: 100 * time.Millisecond},
		},
		{
			name: "lb drain, weight defaults to 100",
			in:   `{"id":"l","version":7,"kind":"lb_state","device":"lb","state":"drain"}`,
			want: Command{ID: "l", Version: 7, Kind: KindLBState, Device: "lb", State: LBDrain, WeightPercent: 100},
		},
		{
			name: "lb weight",
			in:   `{"id":"l","version":8,"kind":"lb_state","device":"lb","state":"weight","weight_percent":50,"expires":9}`,
			want: Command{ID: "l", Version: 8, Kind: KindLBState, Device: "lb", State: LBWeight, WeightPercent: 50, Expires: ms(9)},
		},
		{
			name: "unicode device",
			in:   `{"id":"u","version":1,"kind":"sensor_enable","device":"salle-é","enabled":true}`,
			want: Command{ID: "u", Version: 1, Kind: KindSensorEnable, Device: "salle-é", Enabled: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseJSON([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseJSON: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseJSON:\n got %+v\nwant %+v", got, tt.want)
			}
			// The encoding the collector sends parses back to the same command.
			b, err := got.MarshalJSON()
			if err != nil {
				t.Fatalf("MarshalJSON: %v", err)
			}
			again, err := ParseJSON(b)
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("round trip of %s: %+v, %v", b, again, err)
			}
		})
	}
}

func TestParseJSONBad(t *testing.T) {
	t.Parallel()
	const fan = `"id":"c","version":12,"kind":"fan_duty","device":"fans","channel":3,"duty":0.8,"expires":1795694400000`
	tests := []struct {
		name string
		in   string
		want Reason
	}{
		{"empty", ``, ReasonMalformed},
		{"not JSON", `fan_duty 0.8`, ReasonMalformed},
		{"truncated", `{` + fan, ReasonMalformed},
		{"array", `[` + `{` + fan + `}]`, ReasonMalformed},
		{"string", `"fan"`, ReasonMalformed},
		{"null", `null`, ReasonMalformed},
		{"two objects", `{` + fan + `}{}`, ReasonMalformed},
		{"trailing garbage", `{` + fan + `}x`, ReasonMalformed},
		{"invalid UTF-8", "{\"id\":\"\xff\"}", ReasonMalformed},
		{"too large", `{` + fan + `,"issued":1` + strings.Repeat(" ", MaxJSONLen) + `}`, ReasonTooLarge},
		{"empty object", `{}`, ReasonMissingField},
		{"unknown key", `{` + fan + `,"force":true}`, ReasonUnknownField},
		{"key of another kind", `{` + fan + `,"enabled":true}`, ReasonUnknownField},
		{"weight on a fan", `{` + fan + `,"weight_percent":5}`, ReasonUnknownField},
		{"case matters", `{"ID":"c","version":1,"kind":"sensor_enable","device":"d","enabled":true}`, ReasonUnknownField},
		{"duplicate key", `{` + fan + `,"duty":0.1}`, ReasonDuplicateField},
		{"missing kind", `{"id":"c","version":1,"device":"d","enabled":true}`, ReasonMissingField},
		{"missing id", `{"version":1,"kind":"sensor_enable","device":"d","enabled":true}`, ReasonMissingField},
		{"missing version", `{"id":"c","kind":"sensor_enable","device":"d","enabled":true}`, ReasonMissingField},
		{"missing device", `{"id":"c","version":1,"kind":"sensor_enable","enabled":true}`, ReasonMissingField},
		{"missing enabled", `{"id":"c","version":1,"kind":"sensor_enable","device":"d"}`, ReasonMissingField},
		{"missing period", `{"id":"c","version":1,"kind":"poll_period","device":"d"}`, ReasonMissingField},
		{"missing state", `{"id":"c","version":1,"kind":"lb_state","device":"d"}`, ReasonMissingField},
		{"fan without expires", `{"id":"c","version":1,"kind":"fan_duty","device":"f","channel":1,"duty":0.5}`, ReasonMissingField},
		{"fan without channel", `{"id":"c","version":1,"kind":"fan_duty","device":"f","duty":0.5,"expires":9}`, ReasonMissingField},
		{"fan without duty", `{"id":"c","version":1,"kind":"fan_duty","device":"f","channel":1,"expires":9}`, ReasonMissingField},
		{"weight state without weight", `{"id":"c","version":1,"kind":"lb_state","device":"d","state":"weight"}`, ReasonMissingField},
		{"version as string", `{"id":"c","version":"12","kind":"sensor_enable","device":"d","enabled":true}`, ReasonWrongType},
		{"version fraction", `{"id":"c","version":12.5,"kind":"sensor_enable","device":"d","enabled":true}`, ReasonWrongType},
		{"version exponent", `{"id":"c","version":1e3,"kind":"sensor_enable","device":"d","enabled":true}`, ReasonWrongType},
		{"version null", `{"id":"c","version":null,"kind":"sensor_enable","device":"d","enabled":true}`, ReasonWrongType},
		{"id as number", `{"id":7,"version":1,"kind":"sensor_enable","device":"d","enabled":true}`, ReasonWrongType},
		{"kind as number", `{"id":"c","version":1,"kind":1,"device":"d","enabled":true}`, ReasonWrongType},
		{"enabled as string", `{"id":"c","version":1,"kind":"sensor_enable","device":"d","enabled":"true"}`, ReasonWrongType},
		{"enabled as number", `{"id":"c","version":1,"kind":"sensor_enable","device":"d","enabled":1}`, ReasonWrongType},
		{"period as number", `{"id":"c","version":1,"kind":"poll_period","device":"d","period":5}`, ReasonWrongType},
		{"duty as string", `{"id":"c","version":1,"kind":"fan_duty","device":"f","channel":1,"duty":"0.5","expires":9}`, ReasonWrongType},
		{"channel fraction", `{"id":"c","version":1,"kind":"fan_duty","device":"f","channel":1.5,"duty":0.5,"expires":9}`, ReasonWrongType},
		{"nested object", `{"id":"c","version":1,"kind":"sensor_enable","device":{"name":"d"},"enabled":true}`, ReasonWrongType},
		{"array value", `{"id":"c","version":1,"kind":"sensor_enable","device":"d","enabled":[true]}`, ReasonWrongType},
		{"expires fraction", `{"id":"c","version":1,"kind":"sensor_enable","device":"d","enabled":true,"expires":1.5}`, ReasonWrongType},
		{"negative version", `{"id":"c","version":-1,"kind":"sensor_enable","device":"d","enabled":true}`, ReasonOutOfRange},
		{"version over 64 bits", `{"id":"c","version":18446744073709551616,"kind":"sensor_enable","device":"d","enabled":true}`, ReasonOutOfRange},
		{"channel 0", `{"id":"c","version":1,"kind":"fan_duty","device":"f","channel":0,"duty":0.5,"expires":9}`, ReasonOutOfRange},
		{"channel 7", `{"id":"c","version":1,"kind":"fan_duty","device":"f","channel":7,"duty":0.5,"expires":9}`, ReasonOutOfRange},
		{"channel huge", `{"id":"c","version":1,"kind":"fan_duty","device":"f","channel":99999999999,"duty":0.5,"expires":9}`, ReasonOutOfRange},
		{"duty over 1", `{"id":"c","version":1,"kind":"fan_duty","device":"f","channel":1,"duty":1.01,"expires":9}`, ReasonOutOfRange},
		{"duty negative", `{"id":"c","version":1,"kind":"fan_duty","device":"f","channel":1,"duty":-0.1,"expires":9}`, ReasonOutOfRange},
		{"duty overflow", `{"id":"c","version":1,"kind":"fan_duty","device":"f","channel":1,"duty":1e400,"expires":9}`, ReasonOutOfRange},
		{"period too short", `{"id":"c","version":1,"kind":"poll_period","device":"d","period":"99ms"}`, ReasonOutOfRange},
		{"period too long", `{"id":"c","version":1,"kind":"poll_period","device":"d","period":"1h0m1s"}`, ReasonOutOfRange},
		{"negative period", `{"id":"c","version":1,"kind":"poll_period","device":"d","period":"-5s"}`, ReasonOutOfRange},
		{"weight over 100", `{"id":"c","version":1,"kind":"lb_state","device":"d","state":"ready","weight_percent":101}`, ReasonOutOfRange},
		{"weight negative", `{"id":"c","version":1,"kind":"lb_state","device":"d","state":"weight","weight_percent":-1}`, ReasonOutOfRange},
		{"expires zero", `{"id":"c","version":1,"kind":"sensor_enable","device":"d","enabled":true,"expires":0}`, ReasonOutOfRange},
		{"expires negative", `{"id":"c","version":1,"kind":"sensor_enable","device":"d","enabled":true,"expires":-5}`, ReasonOutOfRange},
		{"expires after year 9999", `{"id":"c","version":1,"kind":"sensor_enable","device":"d","enabled":true,"expires":253402300800000}`, ReasonOutOfRange},
		{"issued after expires", `{"id":"c","version":1,"kind":"sensor_enable","device":"d","enabled":true,"expires":5,"issued":6}`, ReasonOutOfRange},
		{"empty id", `{"id":"","version":1,"kind":"sensor_enable","device":"d","enabled":true}`, ReasonOutOfRange},
		{"long id", `{"id":"` + strings.Repeat("i", MaxIDLen+1) + `","version":1,"kind":"sensor_enable","device":"d","enabled":true}`, ReasonOutOfRange},
		{"empty device", `{"id":"c","version":1,"kind":"sensor_enable","device":"","enabled":true}`, ReasonOutOfRange},
		{"long device", `{"id":"c","version":1,"kind":"sensor_enable","device":"` + strings.Repeat("d", MaxDeviceLen+1) + `","enabled":true}`, ReasonOutOfRange},
		{"id with space", `{"id":"c 1","version":1,"kind":"sensor_enable","device":"d","enabled":true}`, ReasonInvalid},
		{"id with newline", `{"id":"c\n","version":1,"kind":"sensor_enable","device":"d","enabled":true}`, ReasonInvalid},
		{"device with slash", `{"id":"c","version":1,"kind":"sensor_enable","device":"a/b","enabled":true}`, ReasonInvalid},
		{"device with wildcard", `{"id":"c","version":1,"kind":"sensor_enable","device":"#","enabled":true}`, ReasonInvalid},
		{"device with control", `{"id":"c","version":1,"kind":"sensor_enable","device":"a\u0007","enabled":true}`, ReasonInvalid},
		{"unknown state", `{"id":"c","version":1,"kind":"lb_state","device":"d","state":"up"}`, ReasonInvalid},
		{"state in capitals", `{"id":"c","version":1,"kind":"lb_state","device":"d","state":"DRAIN"}`, ReasonInvalid},
		{"period not a duration", `{"id":"c","version":1,"kind":"poll_period","device":"d","period":"5 seconds"}`, ReasonInvalid},
		{"unknown kind", `{"id":"c","version":1,"kind":"reboot","device":"d"}`, ReasonUnknownKind},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseJSON([]byte(tt.in))
			if err == nil {
				t.Fatalf("ParseJSON accepted %s as %+v", tt.in, c)
			}
			if got := ReasonOf(err); got != tt.want {
				t.Fatalf("reason %q, want %q (err: %v)", got, tt.want, err)
			}
			if !strings.HasPrefix(err.Error(), "command: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestMarshalRefusesInvalid(t *testing.T) {
	t.Parallel()
	bad := []Command{
		{ID: "c", Version: 1, Kind: KindFanDuty, Device: "f", Channel: 1, Duty: 0.5}, // no expiry
		{ID: "c", Version: 1, Kind: KindFanDuty, Device: "f", Channel: 9, Duty: 0.5, Expires: ms(9)},
		{ID: "c", Version: 1, Kind: KindPollPeriod, Device: "d", Period: time.Millisecond},
		{ID: "c", Version: 1, Kind: KindLBState, Device: "d", State: "up"},
		{ID: "", Version: 1, Kind: KindSensorEnable, Device: "d"},
		{ID: "c", Version: 1, Kind: "reboot", Device: "d"},
	}
	for _, c := range bad {
		if b, err := c.MarshalJSON(); err == nil {
			t.Errorf("MarshalJSON(%+v) = %s, want an error", c, b)
		}
		if _, err := NewPayload([]Command{c}, time.Now()); err == nil {
			t.Errorf("NewPayload(%+v) succeeded", c)
		}
	}
}

// metric builds a Sparkplug metric; value nil leaves it without a value.
func metric(name string, dt pb.DataType, value any) *pb.Payload_Metric {
	m := &pb.Payload_Metric{Name: proto.String(name), Datatype: proto.Uint32(uint32(dt))}
	switch v := value.(type) {
	case string:
		m.Value = &pb.Payload_Metric_StringValue{StringValue: v}
	case bool:
		m.Value = &pb.Payload_Metric_BooleanValue{BooleanValue: v}
	case uint64:
		m.Value = &pb.Payload_Metric_LongValue{LongValue: v}
	}
	return m
}

func payload(t testing.TB, ms ...*pb.Payload_Metric) []byte {
	t.Helper()
	b, err := proto.Marshal(&pb.Payload{Timestamp: proto.Uint64(1795694340000), Metrics: ms})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	fanJSON   = `{"id":"c-7f3a","version":12,"kind":"fan_duty","device":"fans","channel":3,"duty":0.8,"expires":1795694400000,"issued":1795694340000}`
	drainJSON = `{"id":"l-1","version":2,"kind":"lb_state","device":"lb","state":"drain"}`
)

func TestParse(t *testing.T) {
	t.Parallel()
	fanCmd, _ := ParseJSON([]byte(fanJSON))
	drainCmd, _ := ParseJSON([]byte(drainJSON))
	cmdMetric := func(s string) *pb.Payload_Metric { return metric(MetricName, pb.DataType_String, s) }
	rebirth := metric(sparkplug.MetricRebirth, pb.DataType_Boolean, true)
	tooMany := make([]*pb.Payload_Metric, MaxPerPayload+1)
	for i := range tooMany {
		tooMany[i] = cmdMetric(drainJSON)
	}
	tests := []struct {
		name    string
		in      []byte
		want    []Command
		reasons []Reason // of the joined error, in order
	}{
		{"one command", payload(t, cmdMetric(fanJSON)), []Command{fanCmd}, nil},
		{"two commands", payload(t, cmdMetric(fanJSON), cmdMetric(drainJSON)), []Command{fanCmd, drainCmd}, nil},
		{"command beside a rebirth", payload(t, rebirth, cmdMetric(drainJSON)), []Command{drainCmd}, nil},
		{"rebirth only", payload(t, rebirth), nil, nil},
		// Alias 2 is the one the edge's NBIRTH gives Node Control/Rebirth.
		{"rebirth by alias", payload(t, &pb.Payload_Metric{Alias: proto.Uint64(2), Datatype: proto.Uint32(uint32(pb.DataType_Boolean)),
			Value: &pb.Payload_Metric_BooleanValue{BooleanValue: true}}), nil, nil},
		{"other metrics are ignored", payload(t, metric("Node Control/Scan Rate", pb.DataType_Int64, uint64(5)), cmdMetric(drainJSON)), []Command{drainCmd}, nil},
		{"empty payload", nil, nil, []Reason{ReasonNoCommand}},
		{"no command metric", payload(t, metric("Node Control/Reboot", pb.DataType_Boolean, true)), nil, []Reason{ReasonNoCommand}},
		{"not protobuf", []byte("{\"id\":\"c\"}"), nil, []Reason{ReasonMalformed}},
		{"truncated protobuf", payload(t, cmdMetric(fanJSON))[:20], nil, []Reason{ReasonMalformed}},
		{"text datatype", payload(t, metric(MetricName, pb.DataType_Text, fanJSON)), nil, []Reason{ReasonDatatype}},
		{"int datatype", payload(t, metric(MetricName, pb.DataType_Int64, uint64(1))), nil, []Reason{ReasonDatatype}},
		{"string datatype, long value", payload(t, metric(MetricName, pb.DataType_String, uint64(1))), nil, []Reason{ReasonDatatype}},
		{"string datatype, no value", payload(t, metric(MetricName, pb.DataType_String, nil)), nil, []Reason{ReasonDatatype}},
		{"null", payload(t, func() *pb.Payload_Metric {
			m := cmdMetric(fanJSON)
			m.IsNull = proto.Bool(true)
			return m
		}()), nil, []Reason{ReasonDatatype}},
		{"good and bad", payload(t, cmdMetric(`{"id":"x"}`), cmdMetric(drainJSON), cmdMetric("garbage")), []Command{drainCmd},
			[]Reason{ReasonMissingField, ReasonMalformed}},
		{"too many", payload(t, tooMany...), repeat(drainCmd, MaxPerPayload), []Reason{ReasonTooMany}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("commands:\n got %+v\nwant %+v", got, tt.want)
			}
			var reasons []Reason
			for _, e := range unjoin(err) {
				reasons = append(reasons, ReasonOf(e))
			}
			if !reflect.DeepEqual(reasons, tt.reasons) {
				t.Errorf("refusals %v, want %v (err: %v)", reasons, tt.reasons, err)
			}
		})
	}
}

func repeat(c Command, n int) []Command {
	out := make([]Command, n)
	for i := range out {
		out[i] = c
	}
	return out
}

func TestNewPayloadRoundTrip(t *testing.T) {
	t.Parallel()
	fanCmd, _ := ParseJSON([]byte(fanJSON))
	drainCmd, _ := ParseJSON([]byte(drainJSON))
	b, err := NewPayload([]Command{fanCmd, drainCmd}, ms(1795694340000))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Command{fanCmd, drainCmd}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	// The publisher's rebirth check must not see a command as a rebirth.
	if rb, err := sparkplug.IsRebirthRequest(b); err != nil || rb {
		t.Fatalf("IsRebirthRequest = %v, %v", rb, err)
	}
	if _, err := NewPayload(nil, time.Now()); err == nil {
		t.Error("NewPayload accepted no commands")
	}
}

func TestParseMessage(t *testing.T) {
	t.Parallel()
	b := payload(t, metric(MetricName, pb.DataType_String, drainJSON),
		metric(MetricName, pb.DataType_String, `{"id":"f","version":1,"kind":"sensor_enable","device":"inlet","enabled":false}`))
	ncmd := sparkplug.NodeTopic("g", sparkplug.NCMD, "edge1")
	if cmds, err := ParseMessage(ncmd, b); err != nil || len(cmds) != 2 {
		t.Fatalf("NCMD: %d commands, %v", len(cmds), err)
	}
	dcmd := sparkplug.DeviceTopic("g", sparkplug.DCMD, "edge1", "lb")
	cmds, err := ParseMessage(dcmd, b)
	if len(cmds) != 1 || cmds[0].Device != "lb" {
		t.Fatalf("DCMD for lb kept %+v", cmds)
	}
	if ReasonOf(err) != ReasonTopic {
		t.Fatalf("DCMD for lb: err %v, want a topic refusal of the inlet command", err)
	}
	ndata := sparkplug.NodeTopic("g", sparkplug.NDATA, "edge1")
	if _, err := ParseMessage(ndata, b); ReasonOf(err) != ReasonTopic {
		t.Fatalf("NDATA: %v", err)
	}
}

func TestReasonOf(t *testing.T) {
	t.Parallel()
	if ReasonOf(errors.New("x")) != "" || ReasonOf(nil) != "" {
		t.Fatal("ReasonOf of a plain error should be empty")
	}
	wrapped := fmt.Errorf("publish: %w", refusef(ReasonDatatype, "x"))
	if ReasonOf(wrapped) != ReasonDatatype {
		t.Fatal("ReasonOf does not unwrap")
	}
}
