package server_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
	"github.com/stretchr/testify/require"
)

// serverEvents are the events every test records.
var serverEvents = []string{"listening", "connection", "message", "error", "closed", "close", "connectionClose", "drain"}

// ioTimeout bounds every raw socket operation of a test: it only matters
// when the test is about to fail.
const ioTimeout = eventlog.Timeout

// newServer makes a Server (on a fresh socket path unless opts has one),
// records its events (plus extra ones) and closes it when the test ends.
func newServer(t *testing.T, opts server.Options, extra ...string) (*server.Server, *eventlog.Log) {
	t.Helper()
	if opts.SocketFile == "" {
		opts.SocketFile = testsock.Path(t)
	}
	srv, err := server.New(opts)
	require.NoError(t, err)
	log := eventlog.Record(srv, append(append([]string(nil), serverEvents...), extra...)...)
	t.Cleanup(func() { _ = srv.Close() })
	return srv, log
}

// startServer is newServer, then Listen and wait for "listening".
func startServer(t *testing.T, opts server.Options, extra ...string) (*server.Server, *eventlog.Log) {
	t.Helper()
	srv, log := newServer(t, opts, extra...)
	require.NoError(t, srv.Listen())
	log.Wait(t, "listening")
	return srv, log
}

// rawPeer is a client written by hand on a plain Unix socket, to control
// the bytes on the wire.
type rawPeer struct {
	*net.UnixConn
	ID      string
	fr      *message.FrameReader
	pending [][]byte
}

// dialRaw connects a raw peer and waits for the server's "connection"
// event, whose client id it keeps. Dial one peer at a time.
func dialRaw(t *testing.T, srv *server.Server, log *eventlog.Log) *rawPeer {
	t.Helper()
	nc, err := net.Dial("unix", srv.SocketFile())
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	ev := log.Wait(t, "connection")
	p := &rawPeer{UnixConn: nc.(*net.UnixConn), ID: ev.Arg(0).(string)}
	p.fr = message.NewFrameReader(p.UnixConn, message.Framing{}, 0)
	return p
}

// write writes b, failing the test on error.
func (p *rawPeer) write(t testing.TB, b []byte) {
	t.Helper()
	require.NoError(t, p.SetWriteDeadline(time.Now().Add(ioTimeout)))
	_, err := p.Write(b)
	require.NoError(t, err)
}

// frame reads the next frame (delimiter removed).
func (p *rawPeer) frame(t testing.TB) []byte {
	t.Helper()
	for len(p.pending) == 0 {
		require.NoError(t, p.SetReadDeadline(time.Now().Add(ioTimeout)))
		frames, err := p.fr.Next()
		for _, f := range frames {
			p.pending = append(p.pending, bytes.Clone(f))
		}
		if err != nil && len(p.pending) == 0 {
			t.Fatalf("raw peer %s: reading a frame: %v", p.ID, err)
		}
	}
	f := p.pending[0]
	p.pending = p.pending[1:]
	return f
}

// readExactly reads exactly n raw bytes.
func (p *rawPeer) readExactly(t testing.TB, n int) []byte {
	t.Helper()
	require.NoError(t, p.SetReadDeadline(time.Now().Add(ioTimeout)))
	buf := make([]byte, n)
	_, err := io.ReadFull(p.UnixConn, buf)
	require.NoError(t, err)
	return buf
}

// readToEnd reads until the server ends the connection and returns the
// error that ended it (io.EOF after a graceful close).
func (p *rawPeer) readToEnd(t testing.TB) error {
	t.Helper()
	require.NoError(t, p.SetReadDeadline(time.Now().Add(ioTimeout)))
	_, err := io.Copy(io.Discard, p.UnixConn)
	if err == nil {
		err = io.EOF
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("raw peer %s: the server did not end the connection within %v", p.ID, ioTimeout)
	}
	return err
}

// hangUpOnEOF makes the peer behave like a Node client when the server
// ends the connection: read to the end, then close.
func (p *rawPeer) hangUpOnEOF() {
	go func() {
		_ = p.SetReadDeadline(time.Now().Add(ioTimeout))
		_, _ = io.Copy(io.Discard, p.UnixConn)
		p.Close()
	}()
}

// newClient makes a Go client for srv with events recorded; it is closed
// when the test ends. Connect is left to the caller.
func newClient(t *testing.T, path string, extra ...string) (*client.Client, *eventlog.Log) {
	t.Helper()
	cli, err := client.New(client.Options{SocketFile: path})
	require.NoError(t, err)
	events := append([]string{"connect", "message", "error", "disconnect", "closed", "close"}, extra...)
	log := eventlog.Record(cli, events...)
	t.Cleanup(func() { _ = cli.Close() })
	return cli, log
}

// connectClient connects a Go client and waits until both ends saw it;
// it returns the server's id for it.
func connectClient(t *testing.T, srvLog *eventlog.Log, path string, extra ...string) (*client.Client, *eventlog.Log, string) {
	t.Helper()
	cli, log := newClient(t, path, extra...)
	require.NoError(t, cli.Connect())
	log.Wait(t, "connect")
	id := srvLog.Wait(t, "connection").Arg(0).(string)
	return cli, log, id
}

// waitError waits for the next "error" event and returns its error.
func waitError(t *testing.T, log *eventlog.Log) error {
	t.Helper()
	err := log.Wait(t, "error").Err()
	require.NotNil(t, err, "an error event without an error")
	return err
}

// requireEmitted checks that err, returned by a method, is also the next
// error emitted on "error" (the very same value).
func requireEmitted(t *testing.T, log *eventlog.Log, err error) {
	t.Helper()
	require.Error(t, err)
	emitted := waitError(t, log)
	require.True(t, emitted == err, "emitted error %v is not the returned error %v", emitted, err)
}

// frameJSON is a frame's bytes as sent on the wire, delimiter included.
func frameJSON(topic, payload string) []byte {
	return []byte(fmt.Sprintf(`{"topic":%q,"message":%s}`+"\x00\x00", topic, payload))
}

// guard fails loudly, with every goroutine's stack, if the test is still
// running after d: for tests where a deadlock would otherwise hang a
// cleanup (Close) forever instead of failing.
func guard(t *testing.T, d time.Duration) {
	t.Helper()
	name := t.Name()
	timer := time.AfterFunc(d, func() {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		fmt.Fprintf(os.Stderr, "%s: still running after %v (deadlock?)\n%s\n", name, d, buf)
		panic(name + ": deadlock guard expired")
	})
	t.Cleanup(func() { timer.Stop() })
}
