//go:build unix

package interop_test

import (
	"fmt"
	"testing"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/nodepeer"
	"github.com/socketipc/socketipc/server"
)

// TestBroadcastMixedClients: a Go server broadcasts to two Node clients and two Go clients at
// once; every client gets every message, in order.
func TestBroadcastMixedClients(t *testing.T) {
	leakcheck.Check(t)
	const count = 1000
	sock := nodepeer.TempSocket(t)
	srv, srvIn := startGoServer(t, sock, server.Options{})

	nodes := []*nodepeer.Peer{startNodeClient(t, sock), startNodeClient(t, sock)}
	var gos []*inbox
	var counters []*counter
	for range 2 {
		_, in := startGoClient(t, sock, client.Options{})
		in.log.Wait(t, "connect")
		in.watch("hello")
		c := newCounter("m", count)
		in.src.On("message."+quietTopic, c.listener)
		gos = append(gos, in)
		counters = append(counters, c)
	}
	srvIn.log.WaitCount(t, "connection", 4)
	if n := len(srv.ClientIDs()); n != 4 {
		t.Fatalf("Go server has %d clients, want 4", n)
	}

	// One structured message: message and message.<topic> everywhere.
	hello := `{"from":"go","list":[1,2,3],"s":"é🙂<&>"}`
	if err := srv.Broadcast("hello", mustJSON(t, hello)); err != nil {
		t.Fatalf("Broadcast: %v", err)
	}
	for i, p := range nodes {
		if m := expectNodeMessage(t, p, "hello"); !jsonEqual(m.Message, []byte(hello)) {
			t.Errorf("Node client %d got %s", i, m.Line)
		}
	}
	for i, in := range gos {
		if m := in.expectMessage(t, "hello"); !jsonEqual(m.Raw, []byte(hello)) || m.ClientID != "" {
			t.Errorf("Go client %d got %s (client id %q)", i, m.Raw, m.ClientID)
		}
	}

	// A burst, counted in order by every client.
	for _, p := range nodes {
		do(t, p, map[string]any{"cmd": "quiet", "topic": quietTopic, "prefix": "m", "expect": count})
	}
	for i := range count {
		if err := srv.Broadcast(quietTopic, fmt.Sprintf("m%d", i)); err != nil {
			t.Fatalf("Broadcast #%d: %v", i, err)
		}
	}
	for i, p := range nodes {
		c := p.Expect(t, "count", burstWait)
		if c.Count != count || !c.Bool("inOrder") || c.Str("lastMessage") != fmt.Sprintf("m%d", count-1) {
			t.Errorf("Node client %d counted %s", i, c.Line)
		}
	}
	for i, c := range counters {
		c.await(t, fmt.Sprintf("Go client %d", i))
	}

	srvIn.checkNoOtherErrors(t)
	for _, in := range gos {
		in.checkNoOtherErrors(t)
	}
	for _, p := range nodes {
		checkNodeClean(t, p)
	}
}
