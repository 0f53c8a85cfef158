package broker

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

func start(t *testing.T) *Broker {
	t.Helper()
	b, err := Listen(Opts{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func connect(t *testing.T, b *Broker, id string, setup func(*paho.ClientOptions)) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(b.URL()).SetClientID(id).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	if setup != nil {
		setup(o)
	}
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("%s: connect to %s: %v", id, b.URL(), tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

func wait(t *testing.T, tok paho.Token) {
	t.Helper()
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("token: %v", tok.Error())
	}
}

// The three things Sparkplug B asks of a broker: QoS 1 delivery, a
// retained STATE for late subscribers, and the will as NDEATH.
func TestSparkplugNeeds(t *testing.T) {
	t.Parallel()
	b := start(t)
	got := make(chan paho.Message, 10)
	sub := connect(t, b, "host", nil)
	wait(t, sub.Subscribe("spBv1.0/#", 1, func(_ paho.Client, m paho.Message) { got <- m }))

	// The will is sent when the connection drops without DISCONNECT: the
	// test keeps the edge's socket to cut it.
	var edgeConn net.Conn
	edge := connect(t, b, "edge", func(o *paho.ClientOptions) {
		o.SetWill("spBv1.0/site1/NDEATH/rack1", "death", 1, false)
		o.SetCustomOpenConnectionFn(func(u *url.URL, _ paho.ClientOptions) (net.Conn, error) {
			c, err := net.Dial("tcp", u.Host)
			edgeConn = c
			return c, err
		})
	})
	wait(t, edge.Publish("spBv1.0/site1/NDATA/rack1", 1, false, "data"))
	wait(t, sub.Publish("spBv1.0/STATE/host", 1, true, "online"))

	want := []string{"spBv1.0/site1/NDATA/rack1 data", "spBv1.0/STATE/host online"}
	for _, w := range want {
		select {
		case m := <-got:
			if g := m.Topic() + " " + string(m.Payload()); g != w || m.Qos() != 1 {
				t.Errorf("got %q at QoS %d, want %q at QoS 1", g, m.Qos(), w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no message, want %q", w)
		}
	}

	late := make(chan paho.Message, 1)
	c := connect(t, b, "late", nil)
	wait(t, c.Subscribe("spBv1.0/STATE/+", 1, func(_ paho.Client, m paho.Message) { late <- m }))
	select {
	case m := <-late:
		if string(m.Payload()) != "online" || !m.Retained() {
			t.Errorf("late subscriber got %q retained=%t, want the retained STATE", m.Payload(), m.Retained())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no retained STATE for a late subscriber")
	}

	// Drop the edge's connection under it: the broker must publish the will.
	edgeConn.Close()
	select {
	case m := <-got:
		if m.Topic() != "spBv1.0/site1/NDEATH/rack1" || string(m.Payload()) != "death" {
			t.Errorf("got %s %q, want the will", m.Topic(), m.Payload())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no will after the edge's connection dropped")
	}
}

func TestListenPortInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Listen(Opts{Addr: ln.Addr().String()})
	if err == nil {
		t.Fatal("Listen on a port in use succeeded")
	}
	for _, want := range []string{ln.Addr().String(), "in use", "mqtt.broker", "mqtt.listen"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestCheckAddr(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:1883", true},
		{"127.0.0.53:0", true},
		{"[::1]:1883", true},
		{"localhost:1883", true},
		{"0.0.0.0:1883", false},
		{":1883", false},
		{"[::]:1883", false},
		{"192.0.2.1:1883", false},
		{"broker.example.net:1883", false},
		{"127.0.0.1", false},
	} {
		err := CheckAddr(tt.addr)
		if (err == nil) != tt.ok {
			t.Errorf("CheckAddr(%q) = %v, want ok=%t", tt.addr, err, tt.ok)
		}
		if !tt.ok && err != nil && !strings.Contains(err.Error(), tt.addr) {
			t.Errorf("CheckAddr(%q) = %q: does not name the address", tt.addr, err)
		}
	}
	if err := CheckAddr("0.0.0.0:1883"); !errors.Is(err, ErrNotLoopback) {
		t.Errorf("CheckAddr(0.0.0.0:1883) = %v, want ErrNotLoopback", err)
	}
}

func TestRunStopsWithContext(t *testing.T) {
	t.Parallel()
	b, err := Listen(Opts{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	connect(t, b, "c", nil)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if c, err := net.DialTimeout("tcp", b.Addr(), time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Run returned", b.Addr())
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
