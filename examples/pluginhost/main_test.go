package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socketipc/socketipc/internal/examplekit"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/nodepeer"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// watcher collects the host's output and lets the test wait for lines.
type watcher struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	notify chan struct{} // closed and replaced on every write
}

func (w *watcher) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(b)
	close(w.notify)
	w.notify = make(chan struct{})
	return len(b), nil
}

func (w *watcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// waitAll waits until the output matches every pattern, in any order.
func (w *watcher) waitAll(t *testing.T, timeout time.Duration, patterns ...string) {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		w.mu.Lock()
		text := w.buf.String()
		ch := w.notify
		w.mu.Unlock()
		var missing []string
		for _, p := range patterns {
			if !regexp.MustCompile(p).MatchString(text) {
				missing = append(missing, p)
			}
		}
		if len(missing) == 0 {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			t.Fatalf("timed out after %v waiting for %q in the output:\n%s", timeout, missing, text)
		}
	}
}

// runHost runs the host with fast timings until the output matches the
// patterns, then stops it and returns its whole output.
func runHost(t *testing.T, cfg config, patterns ...string) string {
	t.Helper()
	w := &watcher{notify: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, cfg, w) }()
	// Generous: the first step builds the Go plugin.
	w.waitAll(t, 30*time.Second, patterns...)
	cancel()
	select {
	case err := <-errc:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("the host did not stop:\n%s", w.String())
	}
	text := w.String()
	t.Log("\n" + text)
	return text
}

func fast(t *testing.T) config {
	return config{
		socket:       testsock.Path(t),
		interval:     50 * time.Millisecond,
		killAfter:    2,
		nodeMaxJobs:  3,
		restartDelay: 50 * time.Millisecond,
		stopTimeout:  3 * time.Second,
	}
}

// assertCleanedUp checks that every plugin process the host started has
// exited and been reaped, and that the socket file is gone.
func assertCleanedUp(t *testing.T, cfg config, text string) {
	t.Helper()
	started := regexp.MustCompile(`host: started (\S+ #\d+) \(pid (\d+)\)`).FindAllStringSubmatch(text, -1)
	require.NotEmpty(t, started)
	for _, m := range started {
		pid, _ := strconv.Atoi(m[2])
		assert.Regexp(t, regexp.QuoteMeta(m[1]+" (pid "+m[2]+") exited"), text, "%s exited", m[1])
		assert.NoError(t, processGone(pid), "%s (pid %d) is gone", m[1], pid)
	}
	_, err := os.Stat(cfg.socket)
	assert.True(t, errors.Is(err, os.ErrNotExist), "the socket file is removed: %v", err)
	assert.True(t, strings.HasSuffix(strings.TrimSpace(text), "host: done"))
}

// assertNoError checks that the output shows no error (a crash's reset
// connection is reported as such, not as an error).
func assertNoError(t *testing.T, text string) {
	t.Helper()
	assert.NotRegexp(t, `(?i)error`, regexp.MustCompile(`(?m)^.*\| .*$`).ReplaceAllString(text, ""), "host lines")
	assert.NotContains(t, text, "| error", "plugin lines")
}

// The whole demonstration, sped up: both plugins register and answer; the
// Go plugin is killed, noticed, restarted and answers again (the job it
// had in flight included); the Node plugin retires after 3 jobs and is
// replaced. Node is required unless SOCKETIPC_SKIP_NODE=1.
func TestPluginHost(t *testing.T) {
	leakcheck.Check(t)
	cfg := fast(t)
	patterns := []string{
		`host: go-plugin #1 registered: client [0-9a-f]{8}, pid (\d+) \(the kernel says (\d+)\), can do upper, reverse`,
		`host: job \d+ (upper|reverse)\(.*\) = ".*" from go-plugin #1 `,
		`host: go-plugin #1 status \(a request\): runtime go\S+, \d+ jobs done`,
		`host: go-plugin #1 has answered 2 jobs; killing it \(SIGKILL`,
		`host: go-plugin #1 is gone \(its connection closed\)`,
		`host: go-plugin #1 \(pid \d+\) exited \(signal: killed\); restarting it`,
		`host: go-plugin #2 registered`,
		`host: job \d+ (upper|reverse)\(.*\) = ".*" from go-plugin #2 `,
	}
	if os.Getenv("SOCKETIPC_SKIP_NODE") == "1" {
		t.Log("SOCKETIPC_SKIP_NODE=1: running the Go plugin only")
		cfg.noNode = true
	} else {
		if _, _, err := nodepeer.Available(); err != nil {
			t.Fatalf("the Node plugin can't run: %v\n(set SOCKETIPC_SKIP_NODE=1 to test the Go plugin only)", err)
		}
		patterns = append(patterns,
			`host: node-plugin #1 registered: client [0-9a-f]{8}, pid \d+ \(the kernel says \d+\), can do sum, wordcount`,
			`host: job \d+ (sum|wordcount)\(.*\) = -?[0-9.]+ from node-plugin #1 `,
			`host: node-plugin #1 status \(a request\): runtime node v\S+, \d+ jobs done`,
			`node-plugin #1 \| did 3 jobs, retiring; bye`,
			`host: node-plugin #1 is gone \(its connection closed\)`,
			`host: node-plugin #1 \(pid \d+\) exited \(exit status 0\); restarting it`,
			`host: job \d+ (sum|wordcount)\(.*\) = -?[0-9.]+ from node-plugin #2 `,
		)
	}
	text := runHost(t, cfg, patterns...)

	m := regexp.MustCompile(patterns[0]).FindStringSubmatch(text)
	assert.Equal(t, m[1], m[2], "the pid in hello is the kernel's")
	// Each result line agrees with the operation.
	check := map[string]map[string]string{
		"upper":     {`"socket files"`: `"SOCKET FILES"`, `"hello, gopher"`: `"HELLO, GOPHER"`, `"ünïcödé ok"`: `"ÜNÏCÖDÉ OK"`},
		"reverse":   {`"stressed"`: `"desserts"`, `"drawer"`: `"reward"`, `"gateman"`: `"nametag"`, `"日本語"`: `"語本日"`},
		"sum":       {`[1,2,3]`: `6`, `[0.5,0.25,0.25]`: `1`, `[10,-20,30,40]`: `60`},
		"wordcount": {`"the quick brown fox"`: `4`, `"one  two three\nfour"`: `4`, `""`: `0`},
	}
	results := regexp.MustCompile(`job \d+ (\w+)\((.*)\) = (.*) from `).FindAllStringSubmatch(text, -1)
	require.NotEmpty(t, results)
	for _, r := range results {
		want, ok := check[r[1]][r[2]]
		if assert.True(t, ok, "a known job: %s", r[0]) {
			assert.Equal(t, want, r[3], "%s", r[0])
		}
	}
	// A job in flight at the crash is done by the restarted plugin.
	if lost := regexp.MustCompile(`go-plugin #1 is gone .*job\(s\) \[([\d ]+)\]`).FindStringSubmatch(text); lost != nil {
		for _, id := range strings.Fields(lost[1]) {
			assert.Regexp(t, `job `+id+` .* from go-plugin #2 \(.*, a retried job\)`, text)
		}
	}
	assertNoError(t, text)
	assertCleanedUp(t, cfg, text)
}

// Without Node, the host says how to get it and carries on with the Go
// plugin.
func TestPluginHostWithoutNode(t *testing.T) {
	leakcheck.Check(t)
	cfg := fast(t)
	cfg.node = "/nonexistent/node"
	cfg.killAfter = 0
	text := runHost(t, cfg,
		`host: NOT starting the Node plugin: Node.js \(/nonexistent/node\) is not installed`,
		"run scripts/test, or `cd test/node && npm ci`",
		`host: job \d+ (upper|reverse)\(.*\) = ".*" from go-plugin #1 `,
		`host: go-plugin #1 status \(a request\): runtime go\S+, \d+ jobs done`,
	)
	assert.NotContains(t, text, "node-plugin")
	assert.NotContains(t, text, "killing")
	assertNoError(t, text)
	assertCleanedUp(t, cfg, text)
}

// Without the Node package installed, examplekit.FindNode says what is missing.
func TestFindNodeWithoutPackage(t *testing.T) {
	if _, _, err := nodepeer.Available(); err != nil && os.Getenv("SOCKETIPC_SKIP_NODE") == "1" {
		t.Skip("no node binary to find")
	}
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(root+"/examples/pluginhost/nodeplugin", 0o755))
	require.NoError(t, os.WriteFile(root+"/examples/pluginhost/nodeplugin/plugin.js", nil, 0o644))
	_, _, err := examplekit.FindNode("", root, "examples/pluginhost/nodeplugin/plugin.js")
	assert.ErrorContains(t, err, "the Node package is not installed in test/node/node_modules")
}
