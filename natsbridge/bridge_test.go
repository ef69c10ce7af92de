package natsbridge_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/natsbridge"
	"github.com/socketipc/socketipc/server"
)

const wait = 5 * time.Second

// socketFile is a short socket path in a fresh temporary folder (Unix socket
// paths are limited to about 100 bytes, and t.TempDir's can be longer).
func socketFile(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "nb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "s.sock")
}

// runNATS starts an embedded NATS server on a random loopback port.
func runNATS(t testing.TB) *natsserver.Server {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(wait) {
		t.Fatal("NATS server not ready")
	}
	t.Cleanup(ns.Shutdown)
	return ns
}

func connectNATS(t testing.TB, ns *natsserver.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

type msg struct {
	topic string
	data  string
}

// host is one socketipc Server with one connected Client, the messages the
// client receives and the errors the server emits.
type host struct {
	srv  *server.Server
	cli  *client.Client
	id   string // the client's id on srv
	got  chan msg
	errs chan error
	// conns has the ids of clients srv accepted after cli: a test that
	// connects another client waits here before it broadcasts.
	conns chan string
}

func newHost(t testing.TB) *host {
	t.Helper()
	path := socketFile(t)
	srv, err := server.New(server.Options{SocketFile: path})
	if err != nil {
		t.Fatal(err)
	}
	h := &host{srv: srv, got: make(chan msg, 100), errs: make(chan error, 100), conns: make(chan string, 16)}
	srv.On(server.EventError, func(err error) { h.errs <- err })
	srv.On(server.EventConnection, func(id string) {
		select {
		case h.conns <- id:
		default: // more connections than any test waits for: never block the loop
		}
	})
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	cli, err := client.New(client.Options{SocketFile: path})
	if err != nil {
		t.Fatal(err)
	}
	cli.On(client.EventMessage, func(raw json.RawMessage, topic string) {
		h.got <- msg{topic, string(raw)}
	})
	cliConnected := make(chan struct{}, 1)
	cli.Once(client.EventConnect, func() { cliConnected <- struct{}{} })
	if err := cli.Connect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	select {
	case h.id = <-h.conns:
	case <-time.After(wait):
		t.Fatal("client did not connect")
	}
	select {
	case <-cliConnected:
	case <-time.After(wait):
		t.Fatal("client did not see its connection")
	}
	h.cli = cli
	return h
}

func (h *host) expect(t *testing.T, want msg) {
	t.Helper()
	select {
	case got := <-h.got:
		if got != want {
			t.Fatalf("client got %+v, want %+v", got, want)
		}
	case <-time.After(wait):
		t.Fatalf("client got nothing, want %+v", want)
	}
}

// statsReach waits until b's counters satisfy ok, and fails the test if they
// never do. A counter moves just after its message does, so a test that has
// seen the message may read the counters a moment early.
func statsReach(t testing.TB, b *natsbridge.Bridge, ok func(natsbridge.Stats) bool) natsbridge.Stats {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		s := b.Stats()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", s)
		}
		time.Sleep(time.Millisecond)
	}
}

func bridge(t testing.TB, h *host, nc *nats.Conn, opts natsbridge.Options) *natsbridge.Bridge {
	t.Helper()
	b, err := natsbridge.ForServer(h.srv, nc, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	// The subscriptions must have reached the NATS server before anything
	// is published for them.
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLocalToNATS(t *testing.T) {
	ns := runNATS(t)
	h := newHost(t)
	b := bridge(t, h, connectNATS(t, ns), natsbridge.Options{Prefix: "app", Topics: []string{"chat room.1"}})

	watcher := connectNATS(t, ns)
	sub, err := watcher.SubscribeSync("app.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := watcher.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := h.cli.Send("not bridged", 1); err != nil {
		t.Fatal(err)
	}
	if err := h.cli.Send("chat room.1", map[string]any{"text": "hi", "n": 2}); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(wait)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "app.chat%20room%2E1" {
		t.Errorf("subject %q", m.Subject)
	}
	var payload map[string]any
	if err := json.Unmarshal(m.Data, &payload); err != nil || payload["text"] != "hi" || payload["n"] != 2.0 {
		t.Errorf("data %s (%v)", m.Data, err)
	}
	if got := m.Header.Get(natsbridge.HeaderOrigin); got != b.ID() {
		t.Errorf("origin %q, want %q", got, b.ID())
	}
	if got := m.Header.Get(natsbridge.HeaderClient); got != h.id {
		t.Errorf("client %q, want %q", got, h.id)
	}
	if m, err := sub.NextMsg(100 * time.Millisecond); err == nil {
		t.Errorf("a message not bridged reached NATS: %s %s", m.Subject, m.Data)
	}
	statsReach(t, b, func(s natsbridge.Stats) bool { return s.Published == 1 && s.Dropped == 0 })
}

func TestNATSToLocal(t *testing.T) {
	ns := runNATS(t)
	h := newHost(t)
	other := newHost(t) // a second client of another server: must get nothing
	_ = other
	second, err := client.New(client.Options{SocketFile: h.srv.SocketFile()})
	if err != nil {
		t.Fatal(err)
	}
	secondGot := make(chan string, 10)
	second.On(client.EventMessage, func(raw json.RawMessage, topic string) { secondGot <- topic + " " + string(raw) })
	connected := make(chan string, 1)
	h.srv.On(server.EventConnection, func(id string) { connected <- id })
	if err := second.Connect(); err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	var secondID string
	select {
	case secondID = <-connected:
	case <-time.After(wait):
		t.Fatal("second client did not connect")
	}

	b := bridge(t, h, connectNATS(t, ns), natsbridge.Options{Topics: []string{"a.b"}})
	pub := connectNATS(t, ns)
	if err := pub.Publish("socketipc.a%2Eb", []byte(`{"x":[1,2]}`)); err != nil {
		t.Fatal(err)
	}
	h.expect(t, msg{"a.b", `{"x":[1,2]}`})
	select {
	case got := <-secondGot:
		if got != `a.b {"x":[1,2]}` {
			t.Fatalf("second client got %s", got)
		}
	case <-time.After(wait):
		t.Fatal("broadcast did not reach the second client")
	}

	// HeaderTo: to one client only.
	m := nats.NewMsg("socketipc.a%2Eb")
	m.Data = []byte(`"only you"`)
	m.Header.Set(natsbridge.HeaderTo, secondID)
	if err := pub.PublishMsg(m); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-secondGot:
		if got != `a.b "only you"` {
			t.Fatalf("second client got %s", got)
		}
	case <-time.After(wait):
		t.Fatal("the addressed client got nothing")
	}
	// A broadcast after it proves the first client got nothing in between.
	if err := pub.Publish("socketipc.a%2Eb", []byte(`3`)); err != nil {
		t.Fatal(err)
	}
	h.expect(t, msg{"a.b", `3`})
	select {
	case got := <-other.got:
		t.Fatalf("a client of an unbridged server got %+v", got)
	default:
	}
	statsReach(t, b, func(s natsbridge.Stats) bool { return s.Delivered == 3 && s.Undelivered == 0 })
}

// Two bridges on the same topic: a message crosses once each way and never
// comes back.
func TestTwoBridgesNoLoop(t *testing.T) {
	ns := runNATS(t)
	a, c := newHost(t), newHost(t)
	opts := natsbridge.Options{Topics: []string{"news"}}
	ba := bridge(t, a, connectNATS(t, ns), opts)
	bc := bridge(t, c, connectNATS(t, ns), opts)

	if err := a.cli.Send("news", "from a"); err != nil {
		t.Fatal(err)
	}
	c.expect(t, msg{"news", `"from a"`})
	if err := c.cli.Send("news", "from c"); err != nil {
		t.Fatal(err)
	}
	a.expect(t, msg{"news", `"from c"`})
	// A marker after both: had anything looped, it would arrive first.
	if err := a.cli.Send("news", "marker"); err != nil {
		t.Fatal(err)
	}
	c.expect(t, msg{"news", `"marker"`})
	select {
	case got := <-a.got:
		t.Fatalf("a's client got %+v back", got)
	default:
	}
	statsReach(t, ba, func(s natsbridge.Stats) bool { return s.Published == 2 && s.Delivered == 1 && s.Ignored == 2 })
	statsReach(t, bc, func(s natsbridge.Stats) bool { return s.Published == 1 && s.Delivered == 2 && s.Ignored == 1 })
}

// A full publish buffer drops, counts and reports; the event loop goes on.
func TestDropWhenNATSIsGone(t *testing.T) {
	ns := runNATS(t)
	h := newHost(t)
	nc := connectNATS(t, ns)
	b := bridge(t, h, nc, natsbridge.Options{Topics: []string{"t"}, MaxPending: 1})
	nc.Close() // every publish now fails: counted and reported
	if err := h.cli.Send("t", 1); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-h.errs:
		if !errors.Is(err, natsbridge.ErrDropped) {
			t.Fatalf("error %v", err)
		}
	case <-time.After(wait):
		t.Fatal("no error emitted for a dropped message")
	}
	if s := b.Stats(); s.Dropped != 1 || s.Published != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestOptions(t *testing.T) {
	ns := runNATS(t)
	h := newHost(t)
	nc := connectNATS(t, ns)
	for name, opts := range map[string]natsbridge.Options{
		"no topics":            {},
		"wildcard prefix":      {Topics: []string{"t"}, Prefix: "a.*"},
		"empty token":          {Topics: []string{"t"}, Prefix: "a..b"},
		"space in prefix":      {Topics: []string{"t"}, Prefix: "a b"},
		"negative pending":     {Topics: []string{"t"}, MaxPending: -1},
		"answers, no answerer": {Requests: []string{"r"}, Answers: []string{"r"}},
		"answers not requests": {Requests: []string{"r"}, Answers: []string{"s"}, Answerer: func(string) string { return "" }},
	} {
		if _, err := natsbridge.ForServer(h.srv, nc, opts); !errors.Is(err, natsbridge.ErrOptions) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Messages from one client on one topic arrive in order at another bridge's
// clients; a message for an unknown client is counted as undelivered.
func TestOrderAndUndelivered(t *testing.T) {
	ns := runNATS(t)
	a, c := newHost(t), newHost(t)
	opts := natsbridge.Options{Topics: []string{"seq"}}
	bridge(t, a, connectNATS(t, ns), opts)
	bc := bridge(t, c, connectNATS(t, ns), opts)
	const n = 500
	go func() {
		for i := range n {
			if err := a.cli.Send("seq", i); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := range n {
		select {
		case got := <-c.got:
			if want := (msg{"seq", strconv.Itoa(i)}); got != want {
				t.Fatalf("message %d: got %+v", i, got)
			}
		case <-time.After(wait):
			t.Fatalf("message %d did not arrive", i)
		}
	}

	pub := connectNATS(t, ns)
	m := nats.NewMsg(bc.Subject("seq"))
	m.Data = []byte(`1`)
	m.Header.Set(natsbridge.HeaderTo, "no-such-client")
	if err := pub.PublishMsg(m); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-c.errs:
		t.Logf("reported: %v", err)
	case <-time.After(wait):
		t.Fatal("no error for a message to an unknown client")
	}
	statsReach(t, bc, func(s natsbridge.Stats) bool { return s.Delivered == n && s.Undelivered == 1 })
}
