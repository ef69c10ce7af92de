package client_test

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/socketipc/socketipc/backoff"
	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
	"github.com/stretchr/testify/require"
)

// fast is the delay used by tests that want retries and reconnects to happen
// quickly without spinning.
const fast = 20 * time.Millisecond

// guard is how long a test waits for something that should be immediate
// before calling it a deadlock.
const guard = 10 * time.Second

// clientEvents are the events a client can emit, recorded by most tests.
var clientEvents = []string{
	"connect", "reconnect", "connectError", "disconnect", "message", "error", "drain", "closed", "close",
}

// startServer makes a listening server at path, closed at the end of the test.
func startServer(t *testing.T, path string) *server.Server {
	t.Helper()
	srv, err := server.New(server.Options{SocketFile: path})
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	require.NoError(t, srv.Listen())
	return srv
}

// newClient makes a client (not yet connecting), closed at the end of the test.
func newClient(t *testing.T, opts client.Options) *client.Client {
	t.Helper()
	cli, err := client.New(opts)
	require.NoError(t, err)
	t.Cleanup(func() { cli.Close() })
	return cli
}

// fastOptions are client options with short delays.
func fastOptions(path string) client.Options {
	return client.Options{
		SocketFile:     path,
		RetryDelay:     backoff.Constant(fast),
		ReconnectDelay: backoff.Constant(fast),
	}
}

// within runs fn and fails the test if it does not return within d.
func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v (deadlock?)", what, d)
	}
}

// without drops the named events from a list of names.
func without(all []string, drop ...string) []string {
	var out []string
next:
	for _, n := range all {
		for _, d := range drop {
			if n == d {
				continue next
			}
		}
		out = append(out, n)
	}
	return out
}

// countingBackOff wraps a policy and logs every call into a shared log, so a
// test can check which policy was consulted when. With stopAfter > 0, the
// stopAfter-th call of NextBackOff (and every later one) returns backoff.Stop.
type countingBackOff struct {
	name      string
	inner     backoff.BackOff
	stopAfter int
	log       *callLog

	mu   sync.Mutex
	next int
}

type callLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *callLog) add(s string) {
	l.mu.Lock()
	l.calls = append(l.calls, s)
	l.mu.Unlock()
}

func (l *callLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.calls...)
}

func counting(name string, inner backoff.BackOff, log *callLog) *countingBackOff {
	return &countingBackOff{name: name, inner: inner, log: log}
}

func (b *countingBackOff) NextBackOff() time.Duration {
	b.mu.Lock()
	b.next++
	n := b.next
	b.mu.Unlock()
	b.log.add(b.name + ".next")
	if b.stopAfter > 0 && n >= b.stopAfter {
		return backoff.Stop
	}
	return b.inner.NextBackOff()
}

func (b *countingBackOff) Reset() {
	b.log.add(b.name + ".reset")
	b.inner.Reset()
}

func (b *countingBackOff) nextCalls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.next
}

// gateBackOff blocks NextBackOff until the test opens the gate (or 10 s
// pass), then returns delay: it holds the client in the gap between a
// disconnect and the next attempt for as long as the test needs.
type gateBackOff struct {
	delay time.Duration
	gate  chan struct{}
	once  sync.Once
}

func newGate(delay time.Duration) *gateBackOff {
	return &gateBackOff{delay: delay, gate: make(chan struct{})}
}

func (g *gateBackOff) open() { g.once.Do(func() { close(g.gate) }) }

func (g *gateBackOff) NextBackOff() time.Duration {
	select {
	case <-g.gate:
	case <-time.After(guard):
	}
	return g.delay
}

func (g *gateBackOff) Reset() {}

// rawServer is a plain Unix listener standing in for a server, so a test can
// put any bytes on the wire, read what the client writes, or behave badly.
type rawServer struct {
	t  *testing.T
	ln *net.UnixListener
}

func listenRaw(t *testing.T, path string) *rawServer {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return &rawServer{t: t, ln: ln}
}

// accept waits for the next connection (closed at the end of the test).
func (r *rawServer) accept() *net.UnixConn {
	r.t.Helper()
	require.NoError(r.t, r.ln.SetDeadline(time.Now().Add(guard)))
	c, err := r.ln.AcceptUnix()
	require.NoError(r.t, err, "raw server: no connection")
	r.t.Cleanup(func() { c.Close() })
	return c
}

// frame is one encoded frame as the Node peer writes it.
func frame(topic string, msg any) []byte {
	b, err := message.AppendFrame(nil, message.JSON, message.Framing{}, topic, msg)
	if err != nil {
		panic(err)
	}
	return b
}

// rawFrame is an envelope written by hand, with the default delimiter.
func rawFrame(s string) []byte { return append([]byte(s), 0, 0) }

// gotFrame is one frame a raw server read: its topic and payload.
type gotFrame struct {
	Topic   string
	Payload []byte
}

// readAll reads frames from c until EOF, within limit; the error is nil for
// a clean EOF between frames.
func readAll(c *net.UnixConn, limit time.Duration) ([]gotFrame, error) {
	_ = c.SetReadDeadline(time.Now().Add(limit))
	fr := message.NewFrameReader(c, message.Framing{}, message.DefaultMaxFrameSize)
	var out []gotFrame
	for {
		frames, err := fr.Next()
		for _, f := range frames {
			topic, payload, serr := message.JSON.SplitEnvelope(f)
			if serr != nil {
				return out, serr
			}
			out = append(out, gotFrame{Topic: string(topic), Payload: append([]byte(nil), payload...)})
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// newFrameReader reads default frames from c.
func newFrameReader(c *net.UnixConn) *message.FrameReader {
	return message.NewFrameReader(c, message.Framing{}, message.DefaultMaxFrameSize)
}

// readN reads frames from c until it has n of them.
func readN(c *net.UnixConn, fr *message.FrameReader, n int, limit time.Duration) ([]gotFrame, error) {
	_ = c.SetReadDeadline(time.Now().Add(limit))
	var out []gotFrame
	for len(out) < n {
		frames, err := fr.Next()
		for _, f := range frames {
			topic, payload, serr := message.JSON.SplitEnvelope(f)
			if serr != nil {
				return out, serr
			}
			out = append(out, gotFrame{Topic: string(topic), Payload: append([]byte(nil), payload...)})
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// selfCred is what PeerCred should report for a peer in this process.
func selfCred() (pid int32, uid uint32) { return int32(os.Getpid()), uint32(os.Getuid()) }
