package natsbridge_test

import (
	"net"
	"strconv"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/socketipc/socketipc/natsbridge"
)

// The NATS server restarts mid-stream: nats.go reconnects, nothing arrives
// twice or out of order, what was sent before and after arrives, and every
// message was either published or counted as dropped.
func TestNATSRestart(t *testing.T) {
	ns := runNATS(t)
	port := ns.Addr().(*net.TCPAddr).Port
	url := ns.ClientURL()
	reconnected := make(chan string, 4)
	connect := func(name string) *nats.Conn {
		nc, err := nats.Connect(url, nats.ReconnectWait(20*time.Millisecond), nats.MaxReconnects(-1),
			nats.ReconnectHandler(func(*nats.Conn) { reconnected <- name }))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	a, c := newHost(t), newHost(t)
	opts := natsbridge.Options{Topics: []string{"n"}}
	ba := bridge(t, a, connect("a"), opts)
	bridge(t, c, connect("c"), opts)

	last := -1
	receiveUntil := func(want int) {
		t.Helper()
		for last < want {
			select {
			case m := <-c.got:
				n, err := strconv.Atoi(m.data)
				if err != nil || n <= last {
					t.Fatalf("got %q after %d: duplicated or out of order", m.data, last)
				}
				last = n
			case <-time.After(wait):
				t.Fatalf("stuck after %d, waiting for %d", last, want)
			}
		}
	}
	send := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if err := a.cli.Send("n", i); err != nil {
				t.Fatal(err)
			}
		}
	}
	send(0, 100)
	receiveUntil(99)

	ns.Shutdown()
	send(100, 200) // into nats.go's reconnect buffer, or dropped
	ns2, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns2.Start()
	t.Cleanup(ns2.Shutdown)
	for seen := map[string]bool{}; len(seen) < 2; {
		select {
		case name := <-reconnected:
			seen[name] = true
		case <-time.After(wait):
			t.Fatalf("reconnected: %v", seen)
		}
	}
	send(200, 300)
	receiveUntil(299)
	s := statsReach(t, ba, func(s natsbridge.Stats) bool { return s.Published+s.Dropped == 300 })
	t.Logf("bridge a: %+v; the receiver's last message %d", s, last)
}
