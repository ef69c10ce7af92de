//go:build unix

package interop_test

import (
	"os"
	"testing"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/testkit/nodepeer"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
)

// link is one connection between a Go end and a Node end, either way round.
type link struct {
	sock string

	node         *nodepeer.Peer
	nodeIsServer bool
	// goIDAtNode is the Go client's id at the Node server (empty when Node is the client).
	goIDAtNode string
	// nodeIDAtGo is the Node client's id at the Go server (empty when Go is the client): the
	// client id every message from Node carries on the Go side.
	nodeIDAtGo string

	goServer *server.Server // one of goServer and goClient is set
	goClient *client.Client
	in       *inbox
}

// topology makes a link.
type topology struct {
	name  string
	setup func(t *testing.T, legacy bool) *link
}

var topologies = []topology{
	{"GoServer-NodeClient", goServerNodeClient},
	{"NodeServer-GoClient", nodeServerGoClient},
}

func framing(legacy bool) message.Framing {
	if legacy {
		return message.LegacyFraming
	}
	return message.NulFraming
}

func nodeArgs(legacy bool) []string {
	if legacy {
		return []string{"--legacy"}
	}
	return nil
}

// goServerNodeClient starts a Go server and a Node client connected to it.
func goServerNodeClient(t *testing.T, legacy bool) *link {
	t.Helper()
	l := &link{sock: nodepeer.TempSocket(t)}
	l.goServer, l.in = newGoServer(t, l.sock, server.Options{Framing: framing(legacy)})
	// Greet each client from the connection event (a send from a listener).
	l.goServer.On("connection", func(id string) {
		if err := l.goServer.Send("welcome", id, id); err != nil {
			t.Errorf("Go server: Send from the connection listener: %v", err)
		}
	})
	if err := l.goServer.Listen(); err != nil {
		t.Fatalf("Go server: Listen: %v", err)
	}
	l.in.log.Wait(t, "listening")
	l.node = startNodeClient(t, l.sock, nodeArgs(legacy)...)
	ev := l.in.log.Wait(t, "connection")
	l.nodeIDAtGo, _ = ev.Arg(0).(string)
	if l.nodeIDAtGo == "" {
		t.Fatal("Go server: connection event without a client id")
	}
	// The connection carries the credentials of the Node process.
	conn, _ := ev.Arg(1).(*server.Conn)
	if conn == nil {
		t.Fatalf("Go server: connection event without a *server.Conn: %v", ev)
	}
	checkPeerPID(t, func() (server.PeerCred, error) { cred, err := conn.PeerCred(); return server.PeerCred(cred), err }, l.node.Pid())
	if m := expectNodeMessage(t, l.node, "welcome"); string(m.Message) != `"`+l.nodeIDAtGo+`"` {
		t.Fatalf("the Node client's welcome: %s, want its client id %s", m.Line, l.nodeIDAtGo)
	}
	return l
}

// nodeServerGoClient starts a Node server and a Go client connected to it.
func nodeServerGoClient(t *testing.T, legacy bool) *link {
	t.Helper()
	l := &link{sock: nodepeer.TempSocket(t), nodeIsServer: true}
	l.node = startNodeServer(t, l.sock, nodeArgs(legacy)...)
	l.goClient, l.in = newGoClient(t, l.sock, client.Options{Framing: framing(legacy)})
	// Say hello from the connect event (a client may send from then on).
	l.goClient.On("connect", func() {
		if err := l.goClient.Send("hello", "from the connect listener"); err != nil {
			t.Errorf("Go client: Send from the connect listener: %v", err)
		}
	})
	if err := l.goClient.Connect(); err != nil {
		t.Fatalf("Go client: Connect: %v", err)
	}
	ev := l.in.log.Wait(t, "connect")
	conn, _ := ev.Arg(0).(*client.Conn)
	if conn == nil {
		t.Fatalf("Go client: connect event without a *client.Conn: %v", ev)
	}
	checkPeerPID(t, func() (server.PeerCred, error) { cred, err := conn.PeerCred(); return server.PeerCred(cred), err }, l.node.Pid())
	l.goIDAtNode = l.node.Expect(t, "connection", wait).ClientID
	if m := l.expectNode(t, "hello"); string(m.Message) != `"from the connect listener"` {
		t.Fatalf("the Node server's hello: %s", m.Line)
	}
	return l
}

// checkPeerPID checks that a connection's peer credentials name the Node process.
func checkPeerPID(t *testing.T, peerCred func() (server.PeerCred, error), pid int) {
	t.Helper()
	cred, err := peerCred()
	if err != nil {
		t.Fatalf("PeerCred: %v", err)
	}
	if int(cred.PID) != pid || int(cred.UID) != os.Getuid() || int(cred.GID) != os.Getgid() {
		t.Errorf("PeerCred = %+v, want pid %d (the Node peer), uid %d, gid %d", cred, pid, os.Getuid(), os.Getgid())
	}
}

// goSend sends from the Go end to the Node end.
func (l *link) goSend(topic string, msg any) error {
	if l.goServer != nil {
		return l.goServer.Send(topic, msg, l.nodeIDAtGo)
	}
	return l.goClient.Send(topic, msg)
}

// nodeCmd completes a Node send command (send, sendMany, sendBig, sendRaw) with the client
// id when Node is the server.
func (l *link) nodeCmd(cmd map[string]any) map[string]any {
	if l.nodeIsServer {
		cmd["clientId"] = l.goIDAtNode
	}
	return cmd
}

// nodeDo runs a Node send command and returns its "done" event.
func (l *link) nodeDo(t testing.TB, cmd map[string]any) nodepeer.Event {
	t.Helper()
	return do(t, l.node, l.nodeCmd(cmd))
}

// expectGo takes the next message at the Go end, checks it is on topic from the Node end, and
// returns it.
func (l *link) expectGo(t testing.TB, topic string) goMessage {
	t.Helper()
	m := l.in.expectMessage(t, topic)
	if m.ClientID != l.nodeIDAtGo {
		t.Fatalf("message on %q at the Go end has client id %q, want %q", topic, m.ClientID, l.nodeIDAtGo)
	}
	return m
}

// expectNode takes the next message at the Node end and checks its topic (and, at a Node
// server, that it came from the Go client).
func (l *link) expectNode(t testing.TB, topic string) nodepeer.Event {
	t.Helper()
	m := expectNodeMessage(t, l.node, topic)
	if m.ClientID != l.goIDAtNode {
		t.Fatalf("message at the Node end from client id %q, want %q: %s", m.ClientID, l.goIDAtNode, m.Line)
	}
	return m
}
