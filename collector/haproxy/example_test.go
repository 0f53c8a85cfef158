package haproxy_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/rackwatch/rackwatch/collector/haproxy"
)

func ExampleParseStat() {
	answer := "# pxname,svname,status,weight,type,rtime,ttime,\n" +
		"api,s1,UP,100,2,12,40,\n" +
		"api,s2,DRAIN,100,2,250,900,\n" +
		"api,BACKEND,UP,200,1,131,470,\n\n"
	stats, err := haproxy.ParseStat([]byte(answer))
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range haproxy.Servers(stats) {
		fmt.Printf("%s/%s %s rtime=%v ttime=%v\n", s.Proxy, s.Server, s.Status, s.RTime, s.TTime)
	}
	// Output:
	// api/s1 UP rtime=12ms ttime=40ms
	// api/s2 DRAIN rtime=250ms ttime=900ms
}

func ExampleClient_SetServerState() {
	c, err := haproxy.New(&haproxy.Opts{Name: "lb1", Addr: "/run/haproxy/admin.sock"})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// Move new traffic off a node running hot; sessions in flight finish.
	if err := c.SetServerState(ctx, "api", "rack3-node7", haproxy.Drain); err != nil {
		log.Print(err)
	}
	// ... and put it back once it has cooled down.
	if err := c.SetServerState(ctx, "api", "rack3-node7", haproxy.Ready); err != nil {
		log.Print(err)
	}
}
