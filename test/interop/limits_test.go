//go:build unix

package interop_test

import (
	"errors"
	"testing"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/nodepeer"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
)

// TestFrameTooLarge: a Node peer sending a frame over the Go end's MaxFrameSize gets its
// connection dropped (the Go end emits an error matching message.ErrFrameTooLarge); a Node
// client reconnects by itself, a Go client reconnects to the Node server, and the
// conversation goes on. (Node has no limit: its buffer grows without bound.)
func TestFrameTooLarge(t *testing.T) {
	leakcheck.Check(t)
	const limit = 64 << 10

	// The Node end may see the drop as a socket error (ECONNRESET / EPIPE, as it was writing)
	// and nothing else.
	checkNodeDropOnly := func(t *testing.T, p *nodepeer.Peer) {
		t.Helper()
		for _, e := range p.Events() {
			switch {
			case e.Event == "error" && (e.Code == "ECONNRESET" || e.Code == "EPIPE"):
			case e.Event == "error", e.Event == "uncaughtException", e.Event == "cmdError", e.Event == "peerError":
				t.Errorf("%s reported %s", p.Name(), e.Line)
			}
		}
	}

	t.Run("GoServer-NodeClient", func(t *testing.T) {
		sock := nodepeer.TempSocket(t)
		srv, in := startGoServer(t, sock, server.Options{MaxFrameSize: limit})
		nc := startNodeClient(t, sock)
		id, _ := in.log.Wait(t, "connection").Arg(0).(string)

		do(t, nc, map[string]any{"cmd": "sendBig", "topic": "huge", "size": limit + 1000})
		err := in.expectError(t)
		var de *message.DecodeError
		if !errors.Is(err, message.ErrFrameTooLarge) || !errors.As(err, &de) || de.ClientID != id {
			t.Fatalf("Go server emitted %v, want ErrFrameTooLarge from client %s", err, id)
		}
		if closed, _ := in.log.Wait(t, "connectionClose").Arg(0).(string); closed != id {
			t.Errorf("connectionClose for %q, want %q", closed, id)
		}
		nc.Expect(t, "disconnect", wait)
		c := nc.Expect(t, "connect", wait)
		if r := nc.Expect(t, "reconnect", wait); r.Seq != c.Seq+1 {
			t.Errorf("reconnect is event #%d, connect #%d", r.Seq, c.Seq)
		}
		id2, _ := in.log.Wait(t, "connection").Arg(0).(string)
		exchange(t, "after", in, func(topic string, msg any) error { return srv.Send(topic, msg, id2) }, nc, map[string]any{})
		// A frame of exactly the limit is fine.
		in.watch("limit")
		d := do(t, nc, map[string]any{"cmd": "sendBig", "topic": "limit", "size": limit - len(`{"topic":"limit","message":""}`)})
		if m := in.expectMessage(t, "limit"); len(m.Value.(string)) != d.Int("size") {
			t.Errorf("a frame of the limit: Go got %d chars", len(m.Value.(string)))
		}
		in.checkNoOtherErrors(t)
		checkNodeDropOnly(t, nc)
	})

	t.Run("NodeServer-GoClient", func(t *testing.T) {
		sock := nodepeer.TempSocket(t)
		ns := startNodeServer(t, sock)
		cli, in := startGoClient(t, sock, client.Options{MaxFrameSize: limit})
		in.log.Wait(t, "connect")
		id := ns.Expect(t, "connection", wait).ClientID

		do(t, ns, map[string]any{"cmd": "sendBig", "topic": "huge", "size": limit + 1000, "clientId": id})
		if err := in.expectError(t); !errors.Is(err, message.ErrFrameTooLarge) {
			t.Fatalf("Go client emitted %v, want ErrFrameTooLarge", err)
		}
		in.log.Wait(t, "disconnect")
		in.log.Wait(t, "reconnect")
		in.checkAdjacent(t, "connect", "reconnect")
		ns.ExpectFunc(t, "socketClose of the first connection", wait, func(e nodeEvent) bool {
			return e.Event == "socketClose" && e.ClientID == id
		})
		id2 := ns.Expect(t, "connection", wait).ClientID
		exchange(t, "after", in, cli.Send, ns, map[string]any{"clientId": id2})
		in.checkNoOtherErrors(t)
		checkNodeDropOnly(t, ns)
	})
}
