//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/socketipc/socketipc/internal/testkit/nodepeer"
)

// The tool against unmodified Node peers: socket-ipc 0.4.0, and 0.2.0
// ("%EOM%" framing) with --legacy.
var nodeVersions = []struct {
	name string
	args []string // for peer.js and for the tool alike
}{
	{"0.4.0", nil},
	{"0.2.0 legacy", []string{"--legacy"}},
}

// nodeMessages are sent by Node and must be printed as the same JSON value
// (an undefined message, which Node leaves out of the frame, as null).
// Node writes U+2028 unescaped, and so does the tool, which prints the
// payload as it arrived.
var nodeMessages = []struct {
	topic string
	json  string // nil: undefined
}{
	{"text", `"é 日本 🙂 \u2028"`},
	{"number", `-12.5`},
	{"object", `{"a":[1,{"b":"c"}],"d":{}}`},
	{"topic with spaces", `null`},
	{"nothing", ""},
}

func nodeSend(t *testing.T, peer *nodepeer.Peer, extra map[string]any, topic, raw string) {
	t.Helper()
	cmd := map[string]any{"cmd": "send", "topic": topic}
	if raw != "" {
		cmd["message"] = json.RawMessage(raw)
	}
	for k, v := range extra {
		cmd[k] = v
	}
	peer.Do(t, cmd)
}

func wantPrinted(raw string) string {
	if raw == "" {
		return "null"
	}
	return raw
}

// listen prints what a Node client sends.
func TestNodeClientToListen(t *testing.T) {
	for _, v := range nodeVersions {
		t.Run(v.name, func(t *testing.T) {
			sock := nodepeer.TempSocket(t)
			p := start(t, nil, append([]string{"listen", sock, "--count", fmt.Sprint(len(nodeMessages))}, v.args...)...)
			node := nodepeer.Start(t, "client", sock, append([]string{"--retry", "50"}, v.args...)...)
			node.Do(t, map[string]any{"cmd": "connect"})
			node.Expect(t, "connect", wait)
			for _, m := range nodeMessages {
				nodeSend(t, node, nil, m.topic, m.json)
			}
			var clientID string
			for _, m := range nodeMessages {
				got := parsePrinted(t, p.stdout.next(t))
				if got.Topic != m.topic {
					t.Errorf("printed topic %q, want %q", got.Topic, m.topic)
				}
				jsonEqual(t, string(got.Message), wantPrinted(m.json))
				if clientID == "" {
					clientID = got.ClientID
				} else if got.ClientID != clientID {
					t.Errorf("client id %q, then %q", clientID, got.ClientID)
				}
			}
			p.expectExit(exitOK)
		})
	}
}

// send delivers to a Node server.
func TestSendToNodeServer(t *testing.T) {
	for _, v := range nodeVersions {
		t.Run(v.name, func(t *testing.T) {
			sock := nodepeer.TempSocket(t)
			node := startNodeServer(t, sock, v.args)
			const msg = `{"name":"gopher","n":[1,2.5,null],"s":"é 🙂"}`
			code, stdout, stderr := runTool(t, nil, append([]string{"send", sock, "greeting", msg}, v.args...)...)
			if code != exitOK || stdout != "" || stderr != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
			ev := node.Expect(t, "message", wait)
			jsonEqual(t, string(ev.Message), msg)
			if ev.Topic != "greeting" {
				t.Errorf("topic %q", ev.Topic)
			}
		})
	}
}

// connect holds a conversation with a Node server, both ways.
func TestConnectToNodeServer(t *testing.T) {
	for _, v := range nodeVersions {
		t.Run(v.name, func(t *testing.T) {
			sock := nodepeer.TempSocket(t)
			node := startNodeServer(t, sock, v.args)
			p := startPiped(t, append([]string{"connect", sock}, v.args...)...)
			id := node.Expect(t, "connection", wait).ClientID
			for _, m := range nodeMessages {
				nodeSend(t, node, map[string]any{"clientId": id}, m.topic, m.json)
				line := p.stdout.next(t)
				jsonEqual(t, line, fmt.Sprintf(`{"topic":%q,"message":%s}`, m.topic, wantPrinted(m.json)))
			}
			for _, m := range nodeMessages {
				line := fmt.Sprintf(`{"topic":%q,"message":%s}`+"\n", m.topic, wantPrinted(m.json))
				if _, err := io.WriteString(p.stdin, line); err != nil {
					t.Fatal(err)
				}
				ev := node.Expect(t, "message", wait)
				if ev.Topic != m.topic || ev.ClientID != id {
					t.Errorf("Node got %s", ev.Line)
				}
				jsonEqual(t, string(ev.Message), wantPrinted(m.json))
			}
			p.stdin.Close()
			p.expectExit(exitOK)
			if p.stderr.text() != "" {
				t.Errorf("stderr: %s", p.stderr.text())
			}
		})
	}
}

// startNodeServer runs a listening Node server on sock.
func startNodeServer(t *testing.T, sock string, args []string) *nodepeer.Peer {
	t.Helper()
	node := nodepeer.Start(t, "server", sock, args...)
	node.Do(t, map[string]any{"cmd": "listen"})
	node.Expect(t, "listening", wait)
	return node
}

// jsonEqual compares two JSON texts as values.
func jsonEqual(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("not JSON: %q: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("not JSON: %q: %v", want, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// request asks a Node server that answers by the convention (test/node's
// reqres.js), both socket-ipc versions.
func TestRequestToNodeServer(t *testing.T) {
	for _, v := range nodeVersions {
		t.Run(v.name, func(t *testing.T) {
			sock := nodepeer.TempSocket(t)
			node := startNodeServer(t, sock, v.args)
			node.Do(t, map[string]any{"cmd": "answer", "handlers": map[string]string{"echo": "echo", "fail": "fail"}})
			const msg = `{"name":"gopher","n":[1,2.5,null],"s":"é 🙂"}`
			code, stdout, stderr := runTool(t, nil, append([]string{"request", sock, "echo", msg}, v.args...)...)
			if code != exitOK || stderr != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
			jsonEqual(t, strings.TrimSuffix(stdout, "\n"), msg)
			code, stdout, stderr = runTool(t, nil, append([]string{"request", sock, "fail", `"node says no"`}, v.args...)...)
			if code != exitFailure || stdout != "" || stderr != "socketipc request: the server answered \"fail\" with an error: node says no\n" {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
		})
	}
}
