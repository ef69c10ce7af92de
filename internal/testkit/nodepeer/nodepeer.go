// Package nodepeer runs Node socket-ipc peers for the interop tests.
//
// A Peer is a child process running test/node/peer.js, which drives an unmodified
// @crussell52/socket-ipc Server or Client (0.4.0, or 0.2.0 with the "--legacy" argument).
// Tests send it commands (JSON objects, see test/node/README.md) and wait for the events
// it reports:
//
//	sock := nodepeer.TempSocket(t)
//	srv := nodepeer.Start(t, "server", sock)
//	srv.Do(t, map[string]any{"cmd": "listen"})
//	srv.Expect(t, "listening", 5*time.Second)
//
// Node and the npm packages are required: a missing node binary or missing node_modules fails
// the test with instructions. Setting SOCKETIPC_SKIP_NODE=1 skips the test instead (an explicit
// opt-out for machines without Node; CI never sets it). SOCKETIPC_NODE names the node binary
// to use instead of the one on PATH.
package nodepeer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StartTimeout bounds how long Start waits for the peer to report "ready".
const StartTimeout = 20 * time.Second

// DefaultTimeout is a generous timeout for one step of an interop conversation.
const DefaultTimeout = 10 * time.Second

// Event is one line reported by a peer.
type Event struct {
	Event    string // event name: "message", "message.<topic>", "connect", "done", ...
	Topic    string // message events
	ClientID string // server events about one client

	// Message is the raw JSON of the message; nil when the message was undefined (the frame had
	// no message key; then MessageMissing is true) or was a big string (then MessageLength and
	// MessageSHA256 describe it).
	Message        json.RawMessage
	MessageMissing bool
	MessageLength  int
	MessageSHA256  string

	Error string // error events: the error's message
	Name  string // error events: the error's class, e.g. "BadClientError"
	Code  string // error events: Node's error code, e.g. "ECONNREFUSED", when it has one

	Cmd   string // done and cmdError: the command
	Count int    // done (sendMany) and count events

	Raw  map[string]json.RawMessage // every key of the line
	Line string                     // the line itself
	Seq  int                        // position in the peer's output, from 0
}

// String returns the line as the peer wrote it.
func (e Event) String() string { return e.Line }

// Str returns the string at key, or "" when it is absent or not a string.
func (e Event) Str(key string) string {
	var s string
	if json.Unmarshal(e.Raw[key], &s) != nil {
		return ""
	}
	return s
}

// Int returns the integer at key, or 0 when it is absent or not a number.
func (e Event) Int(key string) int {
	var n int
	if json.Unmarshal(e.Raw[key], &n) != nil {
		return 0
	}
	return n
}

// Bool returns the boolean at key, or false when it is absent or not a boolean.
func (e Event) Bool(key string) bool {
	var b bool
	if json.Unmarshal(e.Raw[key], &b) != nil {
		return false
	}
	return b
}

// Has reports whether the line has key.
func (e Event) Has(key string) bool {
	_, ok := e.Raw[key]
	return ok
}

// Decode decodes the value at key into v.
func (e Event) Decode(key string, v any) error {
	raw, ok := e.Raw[key]
	if !ok {
		return fmt.Errorf("event %s has no %q", e.Event, key)
	}
	return json.Unmarshal(raw, v)
}

func parseEvent(line string, seq int) Event {
	ev := Event{Line: line, Seq: seq}
	if err := json.Unmarshal([]byte(line), &ev.Raw); err != nil || ev.Raw == nil {
		// Not one of ours (peer.js writes nothing else to stdout); keep it visible.
		ev.Event = "nonJSON"
		ev.Raw = map[string]json.RawMessage{}
		return ev
	}
	ev.Event = ev.Str("event")
	ev.Topic = ev.Str("topic")
	ev.ClientID = ev.Str("clientId")
	if m, ok := ev.Raw["message"]; ok {
		ev.Message = m
	}
	ev.MessageMissing = ev.Bool("messageMissing")
	ev.MessageLength = ev.Int("messageLength")
	ev.MessageSHA256 = ev.Str("messageSha256")
	ev.Error = ev.Str("error")
	ev.Name = ev.Str("name")
	if c, ok := ev.Raw["code"]; ok {
		var s string
		if json.Unmarshal(c, &s) == nil {
			ev.Code = s
		} else {
			ev.Code = string(c)
		}
	}
	ev.Cmd = ev.Str("cmd")
	ev.Count = ev.Int("count")
	return ev
}

// Peer is a running peer.js process.
type Peer struct {
	t      testing.TB
	name   string // for messages: "server 1234"
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	inMu   sync.Mutex
	nextID int

	mu      sync.Mutex
	history []Event       // everything reported, in order
	pending []Event       // not yet taken by Expect
	notify  chan struct{} // closed and replaced whenever an event arrives or the process ends
	exited  bool
	waitErr error
	stderr  bytes.Buffer

	done chan struct{} // closed when the process has exited and its output is read
}

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// ModuleRoot returns the directory holding go.mod, found by walking up from the working
// directory (a test's working directory is its package directory).
func ModuleRoot() (string, error) {
	rootOnce.Do(func() {
		dir, err := os.Getwd()
		if err != nil {
			rootErr = err
			return
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				rootDir = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				rootErr = errors.New("go.mod not found above the working directory")
				return
			}
			dir = parent
		}
	})
	return rootDir, rootErr
}

// InteropDir returns the absolute path of test/node.
func InteropDir() (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "test", "node"), nil
}

const installHint = "install Node.js 20 and run scripts/test (it runs npm ci in test/node)"

// Available reports whether Node peers can run here: the node binary, peer.js and the npm
// packages. The error says what is missing and how to fix it.
func Available() (node, dir string, err error) {
	node = os.Getenv("SOCKETIPC_NODE")
	if node == "" {
		node = "node"
	}
	path, lerr := exec.LookPath(node)
	if lerr != nil {
		return "", "", fmt.Errorf("node not found: %s", installHint)
	}
	dir, err = InteropDir()
	if err != nil {
		return "", "", fmt.Errorf("locating test/node: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "peer.js")); err != nil {
		return "", "", fmt.Errorf("%s missing: %w", filepath.Join(dir, "peer.js"), err)
	}
	for _, pkg := range []string{"@crussell52/socket-ipc", "socket-ipc-legacy"} {
		pj := filepath.Join(dir, "node_modules", filepath.FromSlash(pkg), "package.json")
		if _, err := os.Stat(pj); err != nil {
			return "", "", fmt.Errorf("node package %s is not installed in %s: %s", pkg, dir, installHint)
		}
	}
	return path, dir, nil
}

// Start runs `node peer.js role --socket socket args...` (role "server" or "client"; args such
// as "--legacy", "--retry", "50", "--reconnect", "50") and waits for it to report "ready".
// The process is killed by t.Cleanup; its stderr and last events are logged if t failed.
func Start(t testing.TB, role string, socket string, args ...string) *Peer {
	t.Helper()
	if os.Getenv("SOCKETIPC_SKIP_NODE") == "1" {
		t.Skip("SOCKETIPC_SKIP_NODE=1: skipping the Node interop test")
	}
	if role != "server" && role != "client" {
		t.Fatalf("nodepeer.Start: role must be \"server\" or \"client\", not %q", role)
	}
	node, dir, err := Available()
	if err != nil {
		t.Fatalf("nodepeer: %v", err)
	}

	cmd := exec.Command(node, append([]string{filepath.Join(dir, "peer.js"), role, "--socket", socket}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_NO_WARNINGS=1")
	p := &Peer{t: t, cmd: cmd, notify: make(chan struct{}), done: make(chan struct{})}
	cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("nodepeer: %v", err)
	}
	p.stdin, err = cmd.StdinPipe()
	if err != nil {
		t.Fatalf("nodepeer: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("nodepeer: starting %s: %v", role, err)
	}
	p.name = fmt.Sprintf("node %s (pid %d)", role, cmd.Process.Pid)
	go p.read(stdout)

	t.Cleanup(func() {
		p.Close()
		if t.Failed() {
			p.logState(t)
		}
	})

	p.Expect(t, "ready", StartTimeout)
	return p
}

// lockedWriter serialises writes to w with mu (exec copies stderr from its own goroutine).
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (p *Peer) read(stdout io.Reader) {
	r := bufio.NewReaderSize(stdout, 1<<20)
	seq := 0
	for {
		line, err := r.ReadString('\n')
		if line = strings.TrimRight(line, "\r\n"); line != "" {
			ev := parseEvent(line, seq)
			seq++
			p.mu.Lock()
			p.history = append(p.history, ev)
			p.pending = append(p.pending, ev)
			close(p.notify)
			p.notify = make(chan struct{})
			p.mu.Unlock()
		}
		if err != nil {
			break
		}
	}
	werr := p.cmd.Wait()
	p.mu.Lock()
	p.exited = true
	p.waitErr = werr
	close(p.notify)
	p.notify = make(chan struct{})
	p.mu.Unlock()
	close(p.done)
}

// Name describes the peer in messages, e.g. "node server (pid 1234)".
func (p *Peer) Name() string { return p.name }

// Pid returns the process id of the peer.
func (p *Peer) Pid() int { return p.cmd.Process.Pid }

// Send writes one command to the peer. A failure (the peer has gone) is reported with
// t.Errorf of the test that started the peer; the next Expect then fails at once.
func (p *Peer) Send(cmd map[string]any) {
	if err := p.send(cmd); err != nil {
		p.t.Errorf("nodepeer: %s: sending %v: %v", p.name, cmd, err)
	}
}

func (p *Peer) send(cmd map[string]any) error {
	b, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	p.inMu.Lock()
	defer p.inMu.Unlock()
	_, err = p.stdin.Write(append(b, '\n'))
	return err
}

// Do sends cmd with a fresh "id" and waits (DefaultTimeout) for its "done" event, which it
// returns. A "cmdError" for it, or no answer, fails the test.
func (p *Peer) Do(t testing.TB, cmd map[string]any) Event {
	t.Helper()
	p.inMu.Lock()
	p.nextID++
	id := p.nextID
	p.inMu.Unlock()
	c := make(map[string]any, len(cmd)+1)
	for k, v := range cmd {
		c[k] = v
	}
	c["id"] = id
	if err := p.send(c); err != nil {
		t.Fatalf("nodepeer: %s: sending %v: %v", p.name, c, err)
	}
	ev := p.ExpectFunc(t, fmt.Sprintf("done or cmdError for command %v", c), DefaultTimeout, func(e Event) bool {
		return (e.Event == "done" || e.Event == "cmdError") && e.Int("id") == id && e.Has("id")
	})
	if ev.Event == "cmdError" {
		t.Fatalf("nodepeer: %s: command %v failed: %s", p.name, c, ev.Line)
	}
	return ev
}

// Expect waits up to timeout for the next event named name that no earlier Expect took, takes
// it and returns it. Other events stay buffered for later Expects. It fails the test on timeout
// or when the peer exits first.
func (p *Peer) Expect(t testing.TB, name string, timeout time.Duration) Event {
	t.Helper()
	return p.ExpectFunc(t, fmt.Sprintf("event %q", name), timeout, func(e Event) bool { return e.Event == name })
}

// ExpectFunc is Expect with a predicate; what describes the awaited event in failure messages.
func (p *Peer) ExpectFunc(t testing.TB, what string, timeout time.Duration, match func(Event) bool) Event {
	t.Helper()
	ev, err := p.WaitFunc(timeout, match)
	if err != nil {
		t.Fatalf("nodepeer: %s: waiting for %s: %v\n%s", p.name, what, err, p.state())
	}
	return ev
}

// WaitFunc is ExpectFunc returning an error instead of failing the test (for any goroutine).
func (p *Peer) WaitFunc(timeout time.Duration, match func(Event) bool) (Event, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		p.mu.Lock()
		for i, e := range p.pending {
			if match(e) {
				p.pending = append(p.pending[:i:i], p.pending[i+1:]...)
				p.mu.Unlock()
				return e, nil
			}
		}
		if p.exited {
			err := p.waitErr
			p.mu.Unlock()
			return Event{}, fmt.Errorf("the peer exited (%v) first", err)
		}
		ch := p.notify
		p.mu.Unlock()
		select {
		case <-ch:
		case <-timer.C:
			return Event{}, fmt.Errorf("timed out after %v", timeout)
		}
	}
}

// Events returns a copy of every event the peer has reported so far, taken or not.
func (p *Peer) Events() []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Event(nil), p.history...)
}

// Pending returns a copy of the events no Expect has taken yet.
func (p *Peer) Pending() []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Event(nil), p.pending...)
}

// Stderr returns what the peer has written to stderr so far.
func (p *Peer) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// Kill sends SIGKILL to the peer (a crash: no close, no flush) and waits for it to end.
func (p *Peer) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Done is closed once the peer has exited and all its output has been read.
func (p *Peer) Done() <-chan struct{} { return p.done }

// ExitErr returns the result of waiting for the process (nil for exit status 0); it is
// meaningful once Done is closed.
func (p *Peer) ExitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waitErr
}

// Close kills the peer if it is still running and waits for it. It is safe to call more than
// once; Start registers it with t.Cleanup.
func (p *Peer) Close() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.stdin.Close()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *Peer) state() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	const maxLines = 40
	pend := p.pending
	if len(pend) > maxLines {
		fmt.Fprintf(&b, "pending events (last %d of %d):\n", maxLines, len(pend))
		pend = pend[len(pend)-maxLines:]
	} else {
		fmt.Fprintf(&b, "pending events (%d):\n", len(pend))
	}
	for _, e := range pend {
		b.WriteString("  ")
		b.WriteString(truncate(e.Line, 500))
		b.WriteByte('\n')
	}
	if p.stderr.Len() > 0 {
		fmt.Fprintf(&b, "stderr:\n%s", truncate(p.stderr.String(), 8000))
	}
	return b.String()
}

func (p *Peer) logState(t testing.TB) {
	p.mu.Lock()
	hist := p.history
	werr := p.waitErr
	p.mu.Unlock()
	const maxLines = 60
	if len(hist) > maxLines {
		hist = hist[len(hist)-maxLines:]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s exited: %v; last %d events:\n", p.name, werr, len(hist))
	for _, e := range hist {
		b.WriteString("  ")
		b.WriteString(truncate(e.Line, 500))
		b.WriteByte('\n')
	}
	if s := p.Stderr(); s != "" {
		fmt.Fprintf(&b, "stderr:\n%s", truncate(s, 8000))
	}
	t.Log(b.String())
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("... (%d bytes)", len(s))
}

// TempSocket returns a socket path in a new, short temporary directory (Unix socket paths are
// limited to about 100 bytes, and t.TempDir paths can be longer). The directory is removed by
// t.Cleanup.
func TempSocket(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sipc")
	if err != nil {
		t.Fatalf("nodepeer: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return filepath.Join(dir, "s.sock")
}
