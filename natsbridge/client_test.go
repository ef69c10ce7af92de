package natsbridge_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/natsbridge"
	"github.com/socketipc/socketipc/server"
)

// A Client bridge: what its server sends on a chosen topic is published, and
// what arrives on the topic's subject is sent to the server.
func TestClientBridge(t *testing.T) {
	ns := runNATS(t)
	h := newHost(t)
	atServer := make(chan msg, 10)
	h.srv.On(server.EventMessage, func(raw json.RawMessage, topic, clientID string) {
		atServer <- msg{topic, string(raw)}
	})
	cli, err := client.New(client.Options{SocketFile: h.srv.SocketFile()})
	if err != nil {
		t.Fatal(err)
	}
	connected := make(chan struct{}, 1)
	cli.Once(client.EventConnect, func() { connected <- struct{}{} })
	if err := cli.Connect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	select {
	case <-connected:
	case <-time.After(wait):
		t.Fatal("client did not connect")
	}
	// A Broadcast reaches the clients the server has accepted, and the
	// client's connect event may come first.
	select {
	case <-h.conns:
	case <-time.After(wait):
		t.Fatal("server did not see the client")
	}
	nc := connectNATS(t, ns)
	b, err := natsbridge.ForClient(cli, nc, natsbridge.Options{Topics: []string{"c"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	watcher := connectNATS(t, ns)
	sub, err := watcher.SubscribeSync("socketipc.c")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*nats.Conn{nc, watcher} {
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
	}

	if err := h.srv.Broadcast("c", map[string]int{"v": 1}); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(wait)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Data) != `{"v":1}` || m.Header.Get(natsbridge.HeaderOrigin) != b.ID() {
		t.Fatalf("published %s %v", m.Data, m.Header)
	}

	only := nats.NewMsg("socketipc.c")
	only.Data = []byte(`"for one client"`)
	only.Header.Set(natsbridge.HeaderTo, "someone")
	if err := watcher.PublishMsg(only); err != nil {
		t.Fatal(err)
	}
	if err := watcher.Publish("socketipc.c", []byte(`"up"`)); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-atServer:
		if got != (msg{"c", `"up"`}) {
			t.Fatalf("server got %+v", got)
		}
	case <-time.After(wait):
		t.Fatal("server got nothing")
	}
	// One ignored: our own message back from NATS; one: the one with HeaderTo.
	statsReach(t, b, func(s natsbridge.Stats) bool { return s.Published == 1 && s.Delivered == 1 && s.Ignored == 2 })

	if _, err := natsbridge.ForClient(cli, nc, natsbridge.Options{Requests: []string{"r"}}); !errors.Is(err, natsbridge.ErrOptions) {
		t.Errorf("requests on a Client bridge: %v", err)
	}
}
