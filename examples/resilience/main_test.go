package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/nodepeer"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// watcher collects the example's output and lets the test wait for a line.
type watcher struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	notify chan struct{} // closed and replaced on every write
}

func newWatcher() *watcher { return &watcher{notify: make(chan struct{})} }

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

// waitUntil waits until done(output) is true.
func (w *watcher) waitUntil(t *testing.T, what string, timeout time.Duration, done func(string) bool) {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		w.mu.Lock()
		text := w.buf.String()
		ch := w.notify
		w.mu.Unlock()
		if done(text) {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			t.Fatalf("timed out after %v waiting for %s in the output:\n%s", timeout, what, text)
		}
	}
}

// waitFor waits until the output from offset on matches re, and returns
// the end of the match (an offset for the next wait).
func (w *watcher) waitFor(t *testing.T, offset int, re *regexp.Regexp, timeout time.Duration) int {
	t.Helper()
	end := 0
	w.waitUntil(t, strconv.Quote(re.String()), timeout, func(text string) bool {
		if loc := re.FindStringIndex(text[offset:]); loc != nil {
			end = offset + loc[1]
			return true
		}
		return false
	})
	return end
}

// start runs the example in the background; stop ends it and returns its error.
func start(cfg config) (w *watcher, stop func() error) {
	w = newWatcher()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, cfg, w) }()
	var once sync.Once
	var err error
	return w, func() error {
		once.Do(func() {
			cancel()
			err = <-errc
		})
		return err
	}
}

// fast are timings for tests: servers live 400 ms and are down 250 ms.
func fast(socket, role string) config {
	return config{
		socket:    socket,
		role:      role,
		up:        400 * time.Millisecond,
		down:      250 * time.Millisecond,
		interval:  40 * time.Millisecond,
		retry:     delay{12 * time.Millisecond, 60 * time.Millisecond},
		reconnect: delay{8 * time.Millisecond, 40 * time.Millisecond},
	}
}

const step = 5 * time.Second

func re(s string) *regexp.Regexp { return regexp.MustCompile(s) }

var heard = re(`server \((\d+)\): heard \[count\] (\d+) from`)

// lives returns the server lives that heard counters, and the counters.
func lives(text string) (map[string]bool, []int) {
	l := map[string]bool{}
	var counts []int
	for _, m := range heard.FindAllStringSubmatch(text, -1) {
		l[m[1]] = true
		n, _ := strconv.Atoi(m[2])
		counts = append(counts, n)
	}
	return l, counts
}

// The example, sped up, until counters have flowed in two server lives.
func TestResilience(t *testing.T) {
	leakcheck.Check(t)
	w, stop := start(fast(testsock.Path(t), "all"))
	t.Cleanup(func() { stop() })
	w.waitUntil(t, "counters heard by two servers", 2*step, func(text string) bool {
		l, _ := lives(text)
		return len(l) >= 2
	})
	require.NoError(t, stop())
	text := w.String()
	t.Log("\n" + text)

	assert.Contains(t, text, "client: no server (no such file or directory)", "the client starts before any server")
	assert.Contains(t, text, "server (1): listening")
	assert.Contains(t, text, "server (2): listening")
	assert.Regexp(t, `client: heard \[hello\] Hello, client [0-9a-f]{8}! I am server \d+\.`, text)

	// The narration: connect; then disconnect, then connect + reconnect.
	lines := strings.Split(text, "\n")
	idx := func(what string, from int) int {
		for i := from; i < len(lines); i++ {
			if strings.HasSuffix(lines[i], what) {
				return i
			}
		}
		return -1
	}
	first := idx("client: connected to server", 0)
	require.GreaterOrEqual(t, first, 0, "the client connects")
	disc := idx("client: disconnected from server", first)
	require.Greater(t, disc, first, "then it is disconnected")
	again := idx("client: connected to server", disc)
	require.Greater(t, again, disc, "then it connects again")
	assert.Equal(t, again+1, idx("client: reconnected to server", 0), "the first reconnect comes right after that connect")

	// Counters flow in more than one life, in order, none twice. (None is
	// lost either, unless a connection is reset: when the machine is so
	// slow that the client connects just as a server closes, the kernel
	// accepts the connection that the server then resets.)
	l, counts := lives(text)
	assert.GreaterOrEqual(t, len(l), 2, "counters heard by servers %v", l)
	require.NotEmpty(t, counts)
	for i := 1; i < len(counts); i++ {
		assert.Greater(t, counts[i], counts[i-1], "counters in order: %v", counts)
	}
	if !strings.Contains(text, "connection reset by peer") {
		assert.Equal(t, 1, counts[0], "the first counter")
		assert.Equal(t, len(counts), counts[len(counts)-1], "no counter lost: %v", counts)
	}
	assertNoErrorButReset(t, text)
	assert.True(t, strings.HasSuffix(strings.TrimSpace(text), "closed"), "both sides close at the end")
}

// assertNoErrorButReset checks that the output shows no error, except
// connections reset by a server that closed (or crashed) just then: the
// client reports those as errors, as Node does.
func assertNoErrorButReset(t *testing.T, text string) {
	t.Helper()
	text = re(`.*client: error: .*connection reset by peer\n`).ReplaceAllString(text, "")
	assert.NotContains(t, text, "error")
}

// The Go server with the terrible uptime, and the Node package's client:
// it reconnects by itself and hears each new server's hello.
func TestResilienceServerWithNodeClient(t *testing.T) {
	leakcheck.Check(t)
	sock := testsock.Path(t)
	cfg := fast(sock, "server")
	cfg.up = 1200 * time.Millisecond // time for Node to start, even on a busy machine
	w, stop := start(cfg)
	t.Cleanup(func() { stop() })
	w.waitFor(t, 0, re(`server \(1\): listening`), step)

	cli := nodepeer.Start(t, "client", sock, "--retry", "50", "--reconnect", "50")
	cli.Do(t, map[string]any{"cmd": "connect"})
	cli.Expect(t, "connect", step)
	life := func(hello nodepeer.Event) int {
		t.Helper()
		var text string
		require.NoError(t, hello.Decode("message", &text))
		m := re(`^Hello, client [0-9a-f]{8}! I am server (\d+)\.$`).FindStringSubmatch(text)
		require.NotNil(t, m, "hello: %q", text)
		n, _ := strconv.Atoi(m[1])
		return n
	}
	first := life(cli.Expect(t, "message.hello", step))
	cli.Do(t, map[string]any{"cmd": "send", "topic": "count", "message": 1})
	w.waitFor(t, 0, re(`server \(\d+\): heard \[count\] 1 from`), step)

	cli.Expect(t, "disconnect", step)
	cli.Expect(t, "connect", step)
	cli.Expect(t, "reconnect", step)
	assert.Greater(t, life(cli.Expect(t, "message.hello", step)), first, "a new server greets the client")
	cli.Do(t, map[string]any{"cmd": "send", "topic": "count", "message": 2})
	w.waitFor(t, 0, re(`server \(\d+\): heard \[count\] 2 from`), step)
	cli.Do(t, map[string]any{"cmd": "close"})
	cli.Expect(t, "close", step)
	require.NoError(t, stop())
	t.Log("\n" + w.String())
	assert.NotContains(t, w.String(), "error")
}

// The Go client and a Node server that crashes (SIGKILL) and is started
// again: the client narrates disconnect, then connect + reconnect, and its
// counters reach the new server.
func TestResilienceClientWithNodeServer(t *testing.T) {
	leakcheck.Check(t)
	sock := testsock.Path(t)
	srv := nodepeer.Start(t, "server", sock)
	srv.Do(t, map[string]any{"cmd": "listen"})
	srv.Expect(t, "listening", step)

	w, stop := start(fast(sock, "client"))
	t.Cleanup(func() { stop() })
	srv.Expect(t, "connection", step)
	srv.Expect(t, "message.count", step)
	srv.Do(t, map[string]any{"cmd": "broadcast", "topic": "hello", "message": "hi from node 1"})
	at := w.waitFor(t, 0, re(`client: heard \[hello\] hi from node 1`), step)

	srv.Kill() // a crash: the socket file stays behind
	at = w.waitFor(t, at, re(`client: disconnected from server`), step)
	at = w.waitFor(t, at, re(`client: no server \(connection refused\)`), step)

	srv2 := nodepeer.Start(t, "server", sock)
	srv2.Do(t, map[string]any{"cmd": "listen"}) // reclaims the stale file
	srv2.Expect(t, "listening", step)
	srv2.Expect(t, "connection", step)
	at = w.waitFor(t, at, re(`client: connected to server\n.*client: reconnected to server`), step)
	srv2.Expect(t, "message.count", step)
	srv2.Do(t, map[string]any{"cmd": "broadcast", "topic": "hello", "message": "hi from node 2"})
	w.waitFor(t, at, re(`client: heard \[hello\] hi from node 2`), step)
	require.NoError(t, stop())
	srv2.Expect(t, "socketEnd", step) // the client ended its side gracefully
	t.Log("\n" + w.String())
	assertNoErrorButReset(t, w.String())
}

// A bad role is refused before anything starts.
func TestResilienceBadRole(t *testing.T) {
	err := run(context.Background(), config{socket: testsock.Path(t), role: "both"}, &bytes.Buffer{})
	assert.ErrorContains(t, err, "--role")
}

// --retry and --reconnect take Node's two forms: "D" (Node's n: always D)
// and "MIN,MAX" (Node's {min, max}: random from MIN to MAX, both included).
func TestDelayFlag(t *testing.T) {
	var d delay
	require.NoError(t, d.Set("1s"))
	assert.Equal(t, delay{time.Second, time.Second}, d)
	assert.Equal(t, "1s", d.String())
	assert.Equal(t, time.Second, d.policy().NextBackOff())

	require.NoError(t, d.Set("100ms, 500ms"))
	assert.Equal(t, delay{100 * time.Millisecond, 500 * time.Millisecond}, d)
	assert.Equal(t, "100ms,500ms", d.String())
	p := d.policy()
	lo, hi := time.Hour, time.Duration(0)
	for range 2000 {
		w := p.NextBackOff()
		lo, hi = min(lo, w), max(hi, w)
	}
	assert.GreaterOrEqual(t, lo, 100*time.Millisecond)
	assert.LessOrEqual(t, hi, 500*time.Millisecond)
	assert.Less(t, lo, 150*time.Millisecond, "random over the whole range")
	assert.Greater(t, hi, 450*time.Millisecond, "random over the whole range")

	for _, bad := range []string{"", "x", "1s,", "500ms,100ms", "-1s"} {
		assert.Error(t, d.Set(bad), "%q", bad)
	}
}

// The command accepts both forms on its command line and runs through a
// server restart with them.
func TestDelayFlagsOnTheCommandLine(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "resilience")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	cmd := exec.Command(bin, "--up", "400ms", "--down", "250ms", "--interval", "40ms",
		"--retry", "12ms,60ms", "--reconnect", "20ms", "--duration", "2s")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err = cmd.Output()
	require.NoError(t, err, "stderr: %s", stderr.String())
	assert.Empty(t, stderr.String())
	assert.Contains(t, string(out), "client: reconnected to server")

	bad := exec.Command(bin, "--retry", "5s,1s")
	msg, err := bad.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(msg), "0 <= MIN <= MAX")
}
