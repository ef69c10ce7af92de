//go:build unix

package interop_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/nodepeer"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
)

type point struct {
	X int `json:"x"`
	Y int `json:"y"`
}

// goHandlers registers the Go side's handlers: echo (a struct, both ways), fail.
func goServerHandlers(srv *server.Server) {
	server.Handle(srv, "echo", func(ctx context.Context, p point, _ string) (point, error) { return p, nil })
	server.Handle(srv, "fail", func(ctx context.Context, s string, _ string) (any, error) { return nil, errors.New(s) })
}

func goClientHandlers(cli *client.Client) {
	client.Handle(cli, "echo", func(ctx context.Context, p point) (point, error) { return p, nil })
	client.Handle(cli, "fail", func(ctx context.Context, s string) (any, error) { return nil, errors.New(s) })
}

// nodeRequests has the Node peer call the Go side's handlers with reqres.js's requester.
func nodeRequests(t *testing.T, p *nodepeer.Peer, clientID string) {
	t.Helper()
	req := func(topic string, data any) nodeEvent {
		cmd := map[string]any{"cmd": "request", "topic": topic, "data": data}
		if clientID != "" {
			cmd["clientId"] = clientID
		}
		id := do(t, p, cmd).Str("id")
		return p.ExpectFunc(t, "reply to "+topic, wait, func(e nodeEvent) bool {
			return (e.Event == "reply" || e.Event == "replyError") && e.Str("id") == id
		})
	}
	ev := req("echo", map[string]any{"x": 1, "y": -2})
	var got point
	if ev.Event != "reply" || ev.Decode("data", &got) != nil || got != (point{1, -2}) {
		t.Errorf("echo: %s", ev.Line)
	}
	if ev := req("fail", "no luck"); ev.Event != "replyError" || ev.Str("error") != "no luck" {
		t.Errorf("fail: %s", ev.Line)
	}
	if ev := req("missing", nil); ev.Event != "replyError" || ev.Str("error") != `no handler for request topic "missing"` {
		t.Errorf("missing: %s", ev.Line)
	}
}

// goRequests calls the Node peer's handlers (installed by "answer") through call.
func goRequests(t *testing.T, call func(ctx context.Context, topic string, msg, reply any) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var got point
	if err := call(ctx, "echo", point{3, 4}, &got); err != nil || got != (point{3, 4}) {
		t.Errorf("echo: %v, %v", got, err)
	}
	var slow string
	if err := call(ctx, "slow", "later", &slow); err != nil || slow != "later" {
		t.Errorf("slow: %q, %v", slow, err)
	}
	var re *message.RemoteError
	if err := call(ctx, "fail", "node says no", nil); !errors.As(err, &re) || re.Message != "node says no" {
		t.Errorf("fail: %v", err)
	}
	if err := call(ctx, "missing", 1, nil); !errors.As(err, &re) || re.Message != `no handler for request topic "missing"` {
		t.Errorf("missing: %v", err)
	}
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	if err := call(short, "silent", nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("silent: %v", err)
	}
}

var nodeAnswers = map[string]any{"cmd": "answer", "handlers": map[string]string{
	"echo": "echo", "slow": "slow", "fail": "fail", "silent": "silent",
}}

// Request/reply between Go and an unmodified Node 0.4.0 peer running the JS of
// docs/ADVANCED.md (test/node/reqres.js), in both directions, in both topologies.
func TestRequestReplyWithNode(t *testing.T) {
	leakcheck.Check(t)
	t.Run("go-server-node-client", func(t *testing.T) {
		sock := nodepeer.TempSocket(t)
		srv, in := startGoServer(t, sock, server.Options{})
		goServerHandlers(srv)
		p := startNodeClient(t, sock)
		id := in.log.Wait(t, "connection").Arg(0).(string)
		do(t, p, nodeAnswers)
		nodeRequests(t, p, "")
		goRequests(t, func(ctx context.Context, topic string, msg, reply any) error {
			return srv.Request(ctx, id, topic, msg, reply)
		})
	})
	t.Run("node-server-go-client", func(t *testing.T) {
		sock := nodepeer.TempSocket(t)
		p := startNodeServer(t, sock)
		do(t, p, nodeAnswers)
		cli, in := startGoClient(t, sock, client.Options{})
		goClientHandlers(cli)
		in.log.Wait(t, "connect")
		id := p.Expect(t, "connection", wait).Str("clientId")
		goRequests(t, func(ctx context.Context, topic string, msg, reply any) error {
			return cli.Request(ctx, topic, msg, reply)
		})
		nodeRequests(t, p, id)
	})
}

// docs/ADVANCED.md shows test/node/reqres.js, the code these tests run, as it is.
func TestAdvancedShowsReqresJS(t *testing.T) {
	root, err := nodepeer.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(filepath.Join(root, "test/node/reqres.js"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs/ADVANCED.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```js\n"+string(js)+"```\n") {
		t.Error("docs/ADVANCED.md does not show test/node/reqres.js as it is, in a ```js block")
	}
}
