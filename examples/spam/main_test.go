package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/nodepeer"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// watcher collects the example's output and closes done once ready says
// the output holds what the test waits for.
type watcher struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	ready func(string) bool
	done  chan struct{}
	once  sync.Once
}

func (w *watcher) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(b)
	if w.ready(w.buf.String()) {
		w.once.Do(func() { close(w.done) })
	}
	return len(b), nil
}

func (w *watcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// runUntil runs the example until the output is ready or timeout passes.
func runUntil(t *testing.T, cfg config, timeout time.Duration, ready func(string) bool) string {
	t.Helper()
	w := &watcher{ready: ready, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-w.done:
		case <-time.After(timeout):
			t.Errorf("timed out after %v waiting for the output", timeout)
		}
		cancel()
	}()
	require.NoError(t, run(ctx, cfg, w))
	text := w.String()
	t.Log("\n" + text)
	return text
}

var report = regexp.MustCompile(`server: ~(\d+) messages/s \((\d+) in the last [^)]+\) from (\d+) client\(s\)`)

// reports returns the per-second rates and client counts the server printed.
func reports(text string) (rates, clients []int) {
	for _, m := range report.FindAllStringSubmatch(text, -1) {
		r, _ := strconv.Atoi(m[1])
		c, _ := strconv.Atoi(m[3])
		rates = append(rates, r)
		clients = append(clients, c)
	}
	return rates, clients
}

// ratedReports waits for n reports with all the clients connected and a
// positive rate.
func ratedReports(n, clients int) func(string) bool {
	return func(s string) bool {
		rates, cs := reports(s)
		got := 0
		for i := range rates {
			if rates[i] > 0 && cs[i] == clients {
				got++
			}
		}
		return got >= n
	}
}

// Two clients flood flat out through small queues (so the drain pacing is
// exercised many times); the server reports every 200 ms.
func TestSpam(t *testing.T) {
	leakcheck.Check(t)
	cfg := config{
		socket:  testsock.Path(t),
		role:    "all",
		clients: 2,
		queue:   64 << 10,
		every:   200 * time.Millisecond,
	}
	text := runUntil(t, cfg, 8*time.Second, ratedReports(2, 2))
	assert.Contains(t, text, "server: listening")
	assert.Contains(t, text, "client 1: connected, flooding")
	assert.Contains(t, text, "client 2: connected, flooding")
	rates, _ := reports(text)
	require.NotEmpty(t, rates)
	assert.NotContains(t, text, "error")
	assert.NotContains(t, text, "went away", "the server stays up until the clients close")
	assert.Regexp(t, `server: closed\s*$`, text)
}

// With --rate the clients send about that many messages per second.
func TestSpamRate(t *testing.T) {
	leakcheck.Check(t)
	cfg := config{
		socket:  testsock.Path(t),
		role:    "all",
		clients: 1,
		rate:    2000,
		queue:   1 << 20,
		every:   250 * time.Millisecond,
	}
	text := runUntil(t, cfg, 8*time.Second, ratedReports(3, 1))
	rates, clients := reports(text)
	// The first report may cover the connection's start; the later full
	// ones are near the rate (generously: timers are coarse under -race).
	var full []int
	for i, r := range rates {
		if r > 0 && clients[i] == 1 {
			full = append(full, r)
		}
	}
	require.GreaterOrEqual(t, len(full), 3)
	for _, r := range full[1:] {
		assert.InDelta(t, 2000, r, 1000, "messages/s with --rate 2000")
	}
	assert.NotContains(t, text, "error")
}

// start runs the example in the background; stop ends it and returns its error.
func start(t *testing.T, cfg config, ready func(string) bool) (w *watcher, stop func() error) {
	w = &watcher{ready: ready, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, cfg, w) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			err = <-errc
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return w, stop
}

// The Go flooder against the Node package's server: the messages arrive.
func TestSpamClientWithNodeServer(t *testing.T) {
	leakcheck.Check(t)
	sock := testsock.Path(t)
	srv := nodepeer.Start(t, "server", sock)
	srv.Do(t, map[string]any{"cmd": "quiet", "topic": "hello", "expect": 20000}) // count, don't echo
	srv.Do(t, map[string]any{"cmd": "listen"})
	srv.Expect(t, "listening", nodepeer.DefaultTimeout)

	w, stop := start(t, config{socket: sock, role: "client", clients: 2, queue: 256 << 10, every: 200 * time.Millisecond}, func(string) bool { return false })
	count := srv.Expect(t, "count", nodepeer.DefaultTimeout)
	assert.Equal(t, 20000, count.Count)
	assert.Equal(t, 2, count.Int("clients"))
	assert.Regexp(t, `^"\d+:[a-z]{32}"$`, string(count.Raw["lastMessage"]))
	require.NoError(t, stop())
	t.Log("\n" + w.String())
	assert.Contains(t, w.String(), "client 1: connected, flooding")
	assert.NotContains(t, w.String(), "error")
}

// The Go server against the Node package's client flooding it: every
// message is counted, at a positive rate.
func TestSpamServerWithNodeClient(t *testing.T) {
	leakcheck.Check(t)
	sock := testsock.Path(t)
	const total = 50000
	counted := func(text string) int {
		sum := 0
		for _, m := range report.FindAllStringSubmatch(text, -1) {
			n, _ := strconv.Atoi(m[2])
			sum += n
		}
		return sum
	}
	w, stop := start(t, config{socket: sock, role: "server", clients: 1, every: 100 * time.Millisecond},
		func(text string) bool { return counted(text) >= total })
	cli := nodepeer.Start(t, "client", sock)
	cli.Do(t, map[string]any{"cmd": "connect"})
	cli.Expect(t, "connect", nodepeer.DefaultTimeout)
	cli.Do(t, map[string]any{"cmd": "sendMany", "topic": "hello", "count": total, "prefix": "m"})
	select {
	case <-w.done:
	case <-time.After(nodepeer.DefaultTimeout):
		t.Fatalf("the server did not count %d messages:\n%s", total, w.String())
	}
	require.NoError(t, stop())
	text := w.String()
	t.Log("\n" + text)
	assert.Equal(t, total, counted(text))
	assert.True(t, ratedReports(1, 1)(text), "a positive rate with one client")
	assert.NotContains(t, text, "error")
}

func TestSpamBadConfig(t *testing.T) {
	err := run(context.Background(), config{socket: testsock.Path(t), role: "x", clients: 1, every: time.Second}, &bytes.Buffer{})
	assert.ErrorContains(t, err, "--role")
	err = run(context.Background(), config{socket: testsock.Path(t), role: "all", every: time.Second}, &bytes.Buffer{})
	assert.ErrorContains(t, err, "--clients")
}
