package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socketipc/socketipc/backoff"
	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
)

// wait bounds each step of a test. Generous: it only matters when a test
// is about to fail.
const wait = 20 * time.Second

// raceEnabled is set by race_test.go: the tool is then built with -race too.
var raceEnabled bool

// tool is the socketipc binary the tests run, built once by TestMain.
var tool string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "socketipc-cmd")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tool = filepath.Join(dir, "socketipc")
	if runtime.GOOS == "windows" {
		tool += ".exe"
	}
	args := []string{"build", "-o", tool}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building socketipc:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running socketipc process.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser // nil unless started with startPiped
	stdout *lines
	stderr *lines
	done   chan struct{}
	code   int
}

// start runs socketipc with args; stdin is its stdin (nil: empty).
func start(t *testing.T, stdin io.Reader, args ...string) *proc {
	t.Helper()
	p := newProc(t, args)
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	p.cmd.Stdin = stdin
	p.run()
	return p
}

// startPiped runs socketipc with args and a pipe on its stdin (p.stdin).
func startPiped(t *testing.T, args ...string) *proc {
	t.Helper()
	p := newProc(t, args)
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	p.run()
	return p
}

func newProc(t *testing.T, args []string) *proc {
	cmd := exec.Command(tool, args...)
	return &proc{t: t, cmd: cmd, stdout: newLines(), stderr: newLines(), done: make(chan struct{})}
}

func (p *proc) run() {
	p.t.Helper()
	outPipe, err := p.cmd.StdoutPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	errPipe, err := p.cmd.StderrPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	var read sync.WaitGroup
	read.Add(2)
	go func() { defer read.Done(); p.stdout.readFrom(outPipe) }()
	go func() { defer read.Done(); p.stderr.readFrom(errPipe) }()
	go func() {
		read.Wait()
		err := p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		if err != nil && p.code < 0 {
			p.code = -1 // killed by a signal
		}
		close(p.done)
	}()
	p.t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if p.t.Failed() {
			p.t.Logf("socketipc %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(p.cmd.Args[1:], " "),
				p.code, p.stdout.text(), p.stderr.text())
		}
	})
}

// exit waits for the process to end and returns its exit status.
func (p *proc) exit() int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(wait):
		p.t.Fatalf("socketipc %s did not exit within %v", strings.Join(p.cmd.Args[1:], " "), wait)
		return -1
	}
}

// expectExit waits for the process to end with code.
func (p *proc) expectExit(code int) {
	p.t.Helper()
	if got := p.exit(); got != code {
		p.t.Fatalf("socketipc %s: exit status %d, want %d\nstderr:\n%s",
			strings.Join(p.cmd.Args[1:], " "), got, code, p.stderr.text())
	}
}

// runTool runs socketipc to its end and returns its exit status, stdout
// and stderr.
func runTool(t *testing.T, stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	p := start(t, stdin, args...)
	code = p.exit()
	return code, p.stdout.text(), p.stderr.text()
}

// lines collects what a process writes to one stream, line by line, and
// lets a test wait for a line.
type lines struct {
	mu     sync.Mutex
	all    []string
	taken  int           // lines before this one were returned by next
	notify chan struct{} // closed and replaced on each line and at the end
	ended  bool
}

func newLines() *lines { return &lines{notify: make(chan struct{})} }

func (l *lines) readFrom(r io.Reader) {
	br := bufio.NewReader(r)
	for {
		s, err := br.ReadString('\n')
		if s != "" {
			l.mu.Lock()
			l.all = append(l.all, strings.TrimSuffix(s, "\n"))
			close(l.notify)
			l.notify = make(chan struct{})
			l.mu.Unlock()
		}
		if err != nil {
			break
		}
	}
	l.mu.Lock()
	l.ended = true
	close(l.notify)
	l.notify = make(chan struct{})
	l.mu.Unlock()
}

// text is everything written so far.
func (l *lines) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.all) == 0 {
		return ""
	}
	return strings.Join(l.all, "\n") + "\n"
}

// next waits for the next line not yet returned.
func (l *lines) next(t *testing.T) string {
	t.Helper()
	timeout := time.After(wait)
	for {
		l.mu.Lock()
		if l.taken < len(l.all) {
			s := l.all[l.taken]
			l.taken++
			l.mu.Unlock()
			return s
		}
		ended, notify := l.ended, l.notify
		l.mu.Unlock()
		if ended {
			t.Fatalf("the stream ended; no next line (had %d)", l.taken)
		}
		select {
		case <-notify:
		case <-timeout:
			t.Fatalf("no next line within %v (had %d)", wait, l.taken)
		}
	}
}

// waitFor waits for a line that contains s, and returns it.
func (l *lines) waitFor(t *testing.T, s string) string {
	t.Helper()
	timeout := time.After(wait)
	for {
		l.mu.Lock()
		for _, line := range l.all {
			if strings.Contains(line, s) {
				l.mu.Unlock()
				return line
			}
		}
		ended, notify := l.ended, l.notify
		l.mu.Unlock()
		if ended {
			t.Fatalf("the stream ended without a line containing %q:\n%s", s, l.text())
		}
		select {
		case <-notify:
		case <-timeout:
			t.Fatalf("no line containing %q within %v:\n%s", s, wait, l.text())
		}
	}
}

// printed is one JSON line of listen or connect.
type printed struct {
	ClientID string          `json:"clientId"`
	Topic    string          `json:"topic"`
	Message  json.RawMessage `json:"message"`
}

func parsePrinted(t *testing.T, line string) printed {
	t.Helper()
	var p printed
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("not a message line: %q: %v", line, err)
	}
	return p
}

// framing is the library option for --legacy.
func framing(legacy bool) message.Framing {
	if legacy {
		return message.LegacyFraming
	}
	return message.NulFraming
}

// received is one message a Go peer got.
type received struct {
	topic, clientID string
	raw             string
}

// goServer is a Go socketipc server for the tool's client commands. It
// records every message; with echo, it answers each message with the same
// payload under the topic "echo.<topic>".
type goServer struct {
	srv      *server.Server
	messages chan received
	clients  chan string // ids of clients that connected
	gone     chan string // ids of clients that left
}

func startGoServer(t *testing.T, sock string, legacy, echo bool) *goServer {
	t.Helper()
	srv, err := server.New(server.Options{SocketFile: sock, Framing: framing(legacy)})
	if err != nil {
		t.Fatal(err)
	}
	g := &goServer{srv: srv, messages: make(chan received, 100000), clients: make(chan string, 100), gone: make(chan string, 100)}
	srv.On("error", func(err error) { t.Logf("Go server: error: %v", err) })
	srv.On("connection", func(id string) { put(t, g.clients, id) })
	srv.On("connectionClose", func(id string) { put(t, g.gone, id) })
	srv.On("message", func(msg json.RawMessage, topic, clientID string) {
		put(t, g.messages, received{topic: topic, clientID: clientID, raw: string(msg)})
		if echo {
			srv.Send("echo."+topic, msg, clientID)
		}
	})
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return g
}

// goClient is a Go socketipc client for the tool's listen command.
type goClient struct {
	cli      *client.Client
	messages chan received
}

func startGoClient(t *testing.T, sock string, legacy bool) *goClient {
	t.Helper()
	cli, err := client.New(client.Options{SocketFile: sock, Framing: framing(legacy),
		RetryDelay: backoff.Constant(20 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	g := &goClient{cli: cli, messages: make(chan received, 1000)}
	connected := make(chan struct{})
	cli.Once("connect", func() { close(connected) })
	cli.On("error", func(err error) { t.Logf("Go client: error: %v", err) })
	cli.On("message", func(msg json.RawMessage, topic string) {
		put(t, g.messages, received{topic: topic, raw: string(msg)})
	})
	if err := cli.Connect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	select {
	case <-connected:
	case <-time.After(wait):
		t.Fatalf("the Go client did not connect to %s within %v", sock, wait)
	}
	return g
}

func (g *goClient) send(t *testing.T, topic string, msg any) {
	t.Helper()
	if err := g.cli.Send(topic, msg); err != nil {
		t.Fatal(err)
	}
}

// put records v from a listener, which must never block.
func put[T any](t *testing.T, ch chan T, v T) {
	select {
	case ch <- v:
	default:
		t.Errorf("a Go peer's record of events is full (%d)", cap(ch))
	}
}

// next waits for the next message on ch.
func next(t *testing.T, ch <-chan received) received {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(wait):
		t.Fatalf("no message within %v", wait)
		return received{}
	}
}

func nextID(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case id := <-ch:
		return id
	case <-time.After(wait):
		t.Fatalf("no client within %v", wait)
		return ""
	}
}

// rawConn is a client that writes bytes of its own making.
type rawConn struct{ nc net.Conn }

// rawPeer connects to sock, retrying until a server listens there.
func rawPeer(t *testing.T, sock string) *rawConn {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		nc, err := net.Dial("unix", sock)
		if err == nil {
			t.Cleanup(func() { nc.Close() })
			return &rawConn{nc}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no server at %s within %v: %v", sock, wait, err)
		}
		<-time.After(20 * time.Millisecond) // the next attempt, as a client's RetryDelay
	}
}

func (c *rawConn) write(t *testing.T, s string) {
	t.Helper()
	if _, err := c.nc.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}
