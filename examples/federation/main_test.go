package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// The example, built and run as a user runs it: both hosts, their Go and
// Node plugins, an embedded NATS server; it must exit 0 by itself, and its
// output must show each event and request crossing the way it should.
// Node is required unless SOCKETIPC_SKIP_NODE=1 (then the Go plugins stand
// in for the Node ones).
func TestFederation(t *testing.T) {
	out := runExample(t)
	checkConversation(t, out, withNode(t))
	if !regexp.MustCompile(`(?m)\Aeast: no --nats given: started an embedded NATS server at nats://127\.0\.0\.1:\d+$`).MatchString(out) {
		t.Errorf("the first line does not say that an embedded NATS server was started")
	}
}

// With --nats URL it uses that server (here one this test runs) and starts none.
func TestFederationWithNATSURL(t *testing.T) {
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	out := runExample(t, "--nats", ns.ClientURL())
	checkConversation(t, out, withNode(t))
	if want := "east: using the NATS server at " + ns.ClientURL() + "\n"; !strings.HasPrefix(out, want) {
		t.Errorf("the first line is not %q", want)
	}
	if strings.Contains(out, "embedded") {
		t.Error("an embedded NATS server was started although --nats was given")
	}
}

// withNode reports whether the Node plugins take part: Node and the Node
// package must be installed, unless SOCKETIPC_SKIP_NODE=1.
func withNode(t *testing.T) bool {
	t.Helper()
	if os.Getenv("SOCKETIPC_SKIP_NODE") == "1" {
		t.Log("SOCKETIPC_SKIP_NODE=1: the Go plugins stand in for the Node plugins")
		return false
	}
	node := os.Getenv("SOCKETIPC_NODE")
	if node == "" {
		node = "node"
	}
	if _, err := exec.LookPath(node); err != nil {
		t.Fatalf("the example's Node plugins need Node.js (%s): %v\nInstall Node.js 20, or set SOCKETIPC_SKIP_NODE=1 to run the Go plugins only.", node, err)
	}
	pkg := filepath.Join("..", "..", "test", "node", "node_modules", "@crussell52", "socket-ipc", "package.json")
	if _, err := os.Stat(pkg); err != nil {
		t.Fatalf("the example's Node plugins need the Node package: run `cd test/node && npm ci --no-audit --no-fund` (or scripts/test) first, or set SOCKETIPC_SKIP_NODE=1: %v", err)
	}
	return true
}

// runExample builds the example and runs it with args, and returns what it
// printed. It fails the test unless the program exits 0 by itself within
// the timeout.
func runExample(t *testing.T, args ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "federation")
	build := exec.Command("go", "build", "-o", bin, ".")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	if os.Getenv("SOCKETIPC_SKIP_NODE") == "1" {
		args = append(args, "--no-node")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	out := stdout.String()
	t.Logf("output:\n%s", out)
	if ctx.Err() != nil {
		t.Fatalf("the example did not exit by itself within 90s (killed)\nstderr:\n%s", stderr.String())
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) || err != nil {
		t.Fatalf("the example failed: %v\nstderr:\n%s", err, stderr.String())
	}
	return out
}

// checkConversation asserts on the lines of a run: what crossed which way,
// in order where the script defines one, each once.
func checkConversation(t *testing.T, out string, node bool) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	// at returns the index of the one line matching pattern (anchored).
	at := func(pattern string) int {
		t.Helper()
		re := regexp.MustCompile(`^` + pattern + `$`)
		found := -1
		for i, l := range lines {
			if re.MatchString(l) {
				if found >= 0 {
					t.Errorf("%q appears more than once (lines %d and %d)", pattern, found+1, i+1)
				}
				found = i
			}
		}
		if found < 0 {
			t.Fatalf("no line matches %q", pattern)
		}
		return found
	}
	inOrder := func(patterns ...string) {
		t.Helper()
		prev := -1
		for _, p := range patterns {
			i := at(p)
			if i < prev {
				t.Errorf("%q (line %d) comes before %q (line %d)", p, i+1, patterns[0], prev+1)
			}
			prev = i
		}
	}
	q := regexp.QuoteMeta
	plugins := []string{"go-plugin"}
	other := "go-plugin" // the Node plugin, or the Go plugin in its stead
	if node {
		plugins = append(plugins, "node-plugin")
		other = "node-plugin"
	}

	// Each host learns the other's plugins by the ids the other was given.
	ids := map[string]string{}
	for _, h := range []string{"east", "west"} {
		for _, pl := range plugins {
			m := regexp.MustCompile(`(?m)^` + h + `: ` + h + `/` + pl + ` said hello \(client ([0-9a-f]{8})\)$`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no hello from %s/%s", h, pl)
			}
			ids[h+"/"+pl] = m[1]
		}
	}
	met := map[string]int{}
	for _, h := range [][2]string{{"east", "west"}, {"west", "east"}} {
		var list []string
		for _, pl := range plugins {
			list = append(list, h[1]+"/"+pl+" is client "+ids[h[1]+"/"+pl])
		}
		met[h[0]] = at(q(h[0] + ": met " + h[1] + " through NATS: " + strings.Join(list, ", ")))
	}

	// Events, both ways: the news of one host's plugin reaches each plugin
	// of the other host, once, and no plugin of its own host.
	for _, e := range [][3]string{{"east", "west", "go-plugin"}, {"west", "east", other}} {
		from, to, sender := e[0], e[1], e[2]
		tell := at(q(from + ": tells " + from + "/" + sender + " to send news"))
		if tell < met[from] {
			t.Errorf("%s sent news before it met %s", from, to)
		}
		for _, pl := range plugins {
			inOrder(q(from+": tells "+from+"/"+sender+" to send news"),
				q(to+": "+to+"/"+pl+" got news from "+from+"/"+sender+`: "hello from `+from+`"`))
		}
		if regexp.MustCompile(`(?m)^` + from + `: \S+ got news from ` + from + `/`).MatchString(out) {
			t.Errorf("a plugin of %s got news from its own host", from)
		}
	}

	// The Server's own request to a plugin of the other host, both ways.
	for _, h := range [][2]string{{"east", "west"}, {"west", "east"}} {
		asker, answerer := h[0], h[1]
		runtime := `go\S+`
		if node {
			runtime = `node v\S+`
		}
		i := at(q(asker+": asked "+answerer+"/"+other+" (client "+ids[answerer+"/"+other]+`) across NATS with Bridge.Request "describe": it is `+answerer+"/"+other+", running ") + runtime)
		j := at(q(answerer + ": " + answerer + "/" + other + " answered describe for the " + asker + " host"))
		if i < met[asker] || j < met[asker] {
			t.Errorf("%s asked %s before it met it", asker, answerer)
		}
	}

	// A plugin's request answered by a plugin of the other host, both ways.
	input := `"across the federation"`
	inOrder(q(`east: tells east/go-plugin to ask upper(`+input+`); only west answers upper`),
		q(`west: west/go-plugin answered upper(`+input+`)`))
	inOrder(q(`east: tells east/go-plugin to ask upper(`+input+`); only west answers upper`),
		q(`east: east/go-plugin asked upper(`+input+`) = "ACROSS THE FEDERATION" (answered on the other host)`),
		q(`east: my part is done`))
	input = `"one socket per host and NATS between them"`
	inOrder(q(`west: tells west/go-plugin to ask wordcount(`+input+`); only east answers wordcount`),
		q(`east: east/`+other+` answered wordcount(`+input+`)`))
	inOrder(q(`west: tells west/go-plugin to ask wordcount(`+input+`); only east answers wordcount`),
		q(`west: west/go-plugin asked wordcount(`+input+`) = 8 (answered on the other host)`),
		q(`west: my part is done`))

	// The end: west after both parts are done, then east; every plugin exits 0.
	inOrder(q("west: my part is done"), q("east: west has done its part too; ending it (closing its stdin)"),
		q("west: shutting down"), q("west: done"), q("east: the host west exited (exit status 0)"),
		q("east: shutting down"), q("east: done"), q("east: the conversation is over"))
	at(q("east: my part is done"))
	if last := lines[len(lines)-1]; last != "east: the conversation is over" {
		t.Errorf("the last line is %q", last)
	}
	for _, h := range []string{"east", "west"} {
		for _, pl := range plugins {
			at(q(h + ": " + h + "/" + pl + " exited (exit status 0)"))
		}
	}
	if !node {
		at(q("east: NOT starting the Node plugin (--no-node)"))
		at(q("west: NOT starting the Node plugin (--no-node)"))
		out = strings.ReplaceAll(out, "NOT starting the Node plugin (--no-node)", "")
	}
	if regexp.MustCompile(`(?mi)error|failed|NOT starting`).MatchString(out) {
		t.Error("the output reports an error")
	}
}
