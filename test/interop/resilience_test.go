//go:build unix

package interop_test

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/nodepeer"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
)

// exchange checks that a message goes each way over the link between a Go end (in, send) and
// a Node end (p; nodeCmd completes a Node send command).
func exchange(t *testing.T, topic string, in *inbox, goSend func(topic string, msg any) error, p *nodepeer.Peer, nodeCmd map[string]any) {
	t.Helper()
	in.watch(topic)
	nodeCmd["cmd"], nodeCmd["topic"], nodeCmd["message"] = "send", topic, "from node"
	do(t, p, nodeCmd)
	if m := in.expectMessage(t, topic); m.Value != "from node" {
		t.Errorf("%s: Go got %#v", topic, m.Value)
	}
	if err := goSend(topic, "from go"); err != nil {
		t.Fatalf("%s: Go send: %v", topic, err)
	}
	if m := expectNodeMessage(t, p, topic); string(m.Message) != `"from go"` {
		t.Errorf("%s: Node got %s", topic, m.Line)
	}
}

// checkSocketFile fails unless path is a socket file; it returns its FileInfo.
func checkSocketFile(t *testing.T, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatalf("socket file: %v", err)
	}
	if fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("%s is not a socket: %v", path, fi.Mode())
	}
	return fi
}

// TestNodeServerCrashGoClientReconnects: a Node server killed with SIGKILL leaves its socket
// file; the Go client sees disconnect, fails to connect (ECONNREFUSED) and keeps retrying; a
// new Node server reclaims the stale file, and the Go client connects (connect then reconnect)
// and talks to it.
func TestNodeServerCrashGoClientReconnects(t *testing.T) {
	leakcheck.Check(t)
	sock := nodepeer.TempSocket(t)
	ns := startNodeServer(t, sock)
	cli, in := startGoClient(t, sock, client.Options{})
	in.log.Wait(t, "connect")
	id := ns.Expect(t, "connection", wait).ClientID
	exchange(t, "before", in, cli.Send, ns, map[string]any{"clientId": id})

	ns.Kill()
	in.log.Wait(t, "disconnect")
	// Between disconnect and the next connect, Send fails with ErrNoServer.
	err := cli.Send("lost", 1)
	isSendError(t, err, message.ErrNoServer)
	if got := in.expectError(t); !errors.Is(got, message.ErrNoServer) {
		t.Errorf("Send returned %v but emitted %v", err, got)
	}
	checkSocketFile(t, sock) // SIGKILL left it
	if err := in.log.Wait(t, "connectError").Err(); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("connectError on a stale socket file: %v, want ECONNREFUSED", err)
	}

	ns2 := startNodeServer(t, sock)
	in.log.Wait(t, "reconnect")
	in.checkAdjacent(t, "connect", "reconnect")
	if n := in.log.Count("connect"); n != 2 {
		t.Errorf("%d connect events, want 2", n)
	}
	id2 := ns2.Expect(t, "connection", wait).ClientID
	exchange(t, "after", in, cli.Send, ns2, map[string]any{"clientId": id2})

	in.checkNoOtherErrors(t)
	checkNodeClean(t, ns2)
}

// TestNodeClientCrash: a Node client killed with SIGKILL is a connection that ends for the Go
// server: connectionClose, its id is gone (a Send to it is ErrBadClient), and the server goes
// on serving others.
func TestNodeClientCrash(t *testing.T) {
	leakcheck.Check(t)
	l := goServerNodeClient(t, false)
	l.node.Kill()
	if id, _ := l.in.log.Wait(t, "connectionClose").Arg(0).(string); id != l.nodeIDAtGo {
		t.Fatalf("connectionClose for %q, want %q", id, l.nodeIDAtGo)
	}
	err := l.goSend("gone", 1)
	isSendError(t, err, message.ErrBadClient)
	l.in.expectError(t)
	// The kernel may report the crash as a reset rather than an end of stream; the Go server
	// may then say so, and must say nothing else.
	for _, e := range l.in.log.All()[l.in.next:] {
		if e.Name == "error" && !errors.Is(e.Err(), syscall.ECONNRESET) && !errors.Is(e.Err(), message.ErrBadClient) {
			t.Errorf("unexpected error: %v", e.Err())
		}
	}

	nc := startNodeClient(t, l.sock)
	id, _ := l.in.log.Wait(t, "connection").Arg(0).(string)
	expectNodeMessage(t, nc, "welcome")
	exchange(t, "next", l.in, func(topic string, msg any) error { return l.goServer.Send(topic, msg, id) }, nc, map[string]any{})
	checkNodeClean(t, nc)
}

// TestGoServerRestartNodeClientReconnects: a Go server closes (removing its socket file); the
// Node client sees disconnect and retries by itself (ENOENT); a new Go server listens on the
// same path, and the Node client connects (connect then reconnect) and talks to it.
func TestGoServerRestartNodeClientReconnects(t *testing.T) {
	leakcheck.Check(t)
	sock := nodepeer.TempSocket(t)
	srv1, in1 := startGoServer(t, sock, server.Options{})
	nc := startNodeClient(t, sock)
	id1, _ := in1.log.Wait(t, "connection").Arg(0).(string)
	exchange(t, "before", in1, func(topic string, msg any) error { return srv1.Send(topic, msg, id1) }, nc, map[string]any{})

	if err := srv1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	nc.Expect(t, "disconnect", wait)
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Close the socket file is still there (%v)", err)
	}
	if e := nc.Expect(t, "connectError", wait); e.Code != "ENOENT" {
		t.Errorf("Node client's connectError: %s, want ENOENT", e.Line)
	}

	srv2, in2 := startGoServer(t, sock, server.Options{})
	c := nc.Expect(t, "connect", wait)
	if r := nc.Expect(t, "reconnect", wait); r.Seq != c.Seq+1 {
		t.Errorf("Node client: reconnect is event #%d, connect #%d", r.Seq, c.Seq)
	}
	id2, _ := in2.log.Wait(t, "connection").Arg(0).(string)
	if id2 == id1 || id2 == "" {
		t.Errorf("new connection has client id %q (old %q)", id2, id1)
	}
	exchange(t, "after", in2, func(topic string, msg any) error { return srv2.Send(topic, msg, id2) }, nc, map[string]any{})

	in1.checkNoOtherErrors(t)
	in2.checkNoOtherErrors(t)
	checkNodeClean(t, nc)
}

// TestGoServerReclaimsNodeStaleSocket: the socket file left by a Node server killed with
// SIGKILL is stale; a Go server's Listen reclaims it.
func TestGoServerReclaimsNodeStaleSocket(t *testing.T) {
	leakcheck.Check(t)
	sock := nodepeer.TempSocket(t)
	ns := startNodeServer(t, sock)
	ns.Kill()
	checkSocketFile(t, sock) // SIGKILL left it

	srv, in := startGoServer(t, sock, server.Options{})
	nc := startNodeClient(t, sock)
	id, _ := in.log.Wait(t, "connection").Arg(0).(string)
	exchange(t, "reclaimed", in, func(topic string, msg any) error { return srv.Send(topic, msg, id) }, nc, map[string]any{})
	in.checkNoOtherErrors(t)
	checkNodeClean(t, nc)
}

// buildGoServer builds testdata/goserver into a temporary folder and returns the binary.
func buildGoServer(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go") // go test puts its own GOROOT/bin first on PATH
	if err != nil {
		t.Fatalf("the go command is needed to build testdata/goserver: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "goserver")
	cmd := exec.Command(goBin, "build", "-o", bin, "./testdata/goserver")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./testdata/goserver: %v\n%s", err, out)
	}
	return bin
}

// TestNodeServerReclaimsGoStaleSocket: the socket file left by a Go process killed with SIGKILL
// is stale; a Node server's listen reclaims it.
func TestNodeServerReclaimsGoStaleSocket(t *testing.T) {
	leakcheck.Check(t)
	bin := buildGoServer(t)
	sock := nodepeer.TempSocket(t)

	cmd := exec.Command(bin, sock)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	exited := make(chan struct{})
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Process.Kill()
		<-exited
	})
	select {
	case line := <-ready:
		if strings.TrimSpace(line) != "ready" {
			_ = cmd.Process.Kill()
			<-exited // stderr is complete
			t.Fatalf("goserver said %q, not ready; stderr:\n%s", line, stderr.String())
		}
	case <-time.After(wait):
		t.Fatalf("goserver did not get ready within %v", wait)
	}
	goFile := checkSocketFile(t, sock)

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(wait):
		t.Fatal("goserver did not die")
	}
	if now := checkSocketFile(t, sock); !os.SameFile(goFile, now) {
		t.Fatalf("the killed Go server's socket file changed")
	}

	ns := startNodeServer(t, sock) // listening, and no error
	cli, in := startGoClient(t, sock, client.Options{})
	in.log.Wait(t, "connect")
	id := ns.Expect(t, "connection", wait).ClientID
	exchange(t, "reclaimed", in, cli.Send, ns, map[string]any{"clientId": id})
	in.checkNoOtherErrors(t)
	checkNodeClean(t, ns)
}

// TestAddressInUse: neither a Go nor a Node server takes over a path where the other one is
// live.
func TestAddressInUse(t *testing.T) {
	leakcheck.Check(t)
	t.Run("GoRefusesLiveNode", func(t *testing.T) {
		sock := nodepeer.TempSocket(t)
		ns := startNodeServer(t, sock)
		nc := startNodeClient(t, sock)
		id := ns.Expect(t, "connection", wait).ClientID
		nodeFile := checkSocketFile(t, sock)

		srv, in := newGoServer(t, sock, server.Options{})
		err := srv.Listen()
		if !errors.Is(err, syscall.EADDRINUSE) {
			t.Fatalf("Go Listen on a live Node server's path: %v, want EADDRINUSE", err)
		}
		if got := in.expectError(t); !errors.Is(got, syscall.EADDRINUSE) {
			t.Errorf("Listen returned %v but emitted %v", err, got)
		}
		if now := checkSocketFile(t, sock); !os.SameFile(nodeFile, now) {
			t.Fatalf("the Node server's socket file was replaced")
		}
		// Go's liveness probe was a connection to the Node server, which it reports like any
		// other (Node's own probe does the same to a Go server: see below).
		probe := ns.Expect(t, "connection", wait).ClientID
		ns.ExpectFunc(t, "the probe's socketClose", wait, func(e nodepeer.Event) bool {
			return e.Event == "socketClose" && e.ClientID == probe
		})

		// The Node server still serves its client.
		do(t, nc, map[string]any{"cmd": "send", "topic": "still", "message": "there"})
		if m := expectNodeMessage(t, ns, "still"); m.ClientID != id || string(m.Message) != `"there"` {
			t.Errorf("Node server got %s", m.Line)
		}
		// Closing the Go server that never listened leaves the Node server's file alone.
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if now := checkSocketFile(t, sock); !os.SameFile(nodeFile, now) {
			t.Fatalf("closing the Go server replaced the Node server's socket file")
		}
		do(t, ns, map[string]any{"cmd": "send", "topic": "after", "message": 1, "clientId": id})
		expectNodeMessage(t, nc, "after")
		// And new connections to the path still reach it.
		cli, cin := startGoClient(t, sock, client.Options{})
		cin.log.Wait(t, "connect")
		id2 := ns.Expect(t, "connection", wait).ClientID
		exchange(t, "new", cin, cli.Send, ns, map[string]any{"clientId": id2})
		cin.checkNoOtherErrors(t)
		in.checkNoOtherErrors(t)
		checkNodeClean(t, ns)
		checkNodeClean(t, nc)
	})

	t.Run("NodeRefusesLiveGo", func(t *testing.T) {
		sock := nodepeer.TempSocket(t)
		srv, in := startGoServer(t, sock, server.Options{})
		cli, cin := startGoClient(t, sock, client.Options{})
		cin.log.Wait(t, "connect")
		id, _ := in.log.Wait(t, "connection").Arg(0).(string)
		goFile := checkSocketFile(t, sock)

		ns := nodepeer.Start(t, "server", sock)
		do(t, ns, map[string]any{"cmd": "listen"})
		if e := ns.Expect(t, "error", wait); e.Code != "EADDRINUSE" {
			t.Errorf("Node listen on a live Go server's path: %s, want EADDRINUSE", e.Line)
		}
		if now := checkSocketFile(t, sock); !os.SameFile(goFile, now) {
			t.Fatalf("the Go server's socket file was replaced")
		}
		// Node's liveness probe is a connection to the Go server (which Node never closes:
		// it lasts as long as the Node process).
		in.log.Wait(t, "connection")

		// The Go server still serves its client.
		cin.watch("still")
		in.watch("still")
		if err := cli.Send("still", "up"); err != nil {
			t.Fatalf("Go client Send: %v", err)
		}
		if m := in.expectMessage(t, "still"); m.Value != "up" || m.ClientID != id {
			t.Errorf("Go server got %#v from %q", m.Value, m.ClientID)
		}
		if err := srv.Send("still", "down", id); err != nil {
			t.Fatalf("Go server Send: %v", err)
		}
		if m := cin.expectMessage(t, "still"); m.Value != "down" {
			t.Errorf("Go client got %#v", m.Value)
		}
		// And new connections to the path still reach it.
		_, cin2 := startGoClient(t, sock, client.Options{})
		cin2.log.Wait(t, "connect")
		in.log.WaitCount(t, "connection", 3) // the first client, Node's probe, this one
		in.checkNoOtherErrors(t)
		cin.checkNoOtherErrors(t)
		cin2.checkNoOtherErrors(t)
	})
}

// TestSocketModeNodeClient: a Go server's socket file made with SocketMode 0600 (bound in a
// private folder and linked into place) is an ordinary socket file to a Node client.
func TestSocketModeNodeClient(t *testing.T) {
	leakcheck.Check(t)
	sock := nodepeer.TempSocket(t)
	srv, in := startGoServer(t, sock, server.Options{SocketMode: 0o600})
	if fi := checkSocketFile(t, sock); fi.Mode().Perm() != 0o600 {
		t.Errorf("socket file mode %v, want 0600", fi.Mode().Perm())
	}
	nc := startNodeClient(t, sock)
	id, _ := in.log.Wait(t, "connection").Arg(0).(string)
	exchange(t, "mode", in, func(topic string, msg any) error { return srv.Send(topic, msg, id) }, nc, map[string]any{})
	// Closing removes it (and the Node client sees the end).
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Close: %v, want the socket file gone", err)
	}
	nc.Expect(t, "disconnect", wait)
	in.checkNoOtherErrors(t)
	checkNodeClean(t, nc)
}
