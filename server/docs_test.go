package server_test

// Tests that back claims of docs/USAGE.md and docs/ADVANCED.md which no
// other test covers. Each test names the claim it backs.

import (
	"errors"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// docsItem is a numbered message of about 1 KiB.
type docsItem struct {
	N   int    `json:"n"`
	Pad string `json:"pad"`
}

var docsPad = strings.Repeat("p", 1000)

// docsSendPaced is the paced sender of docs/ADVANCED.md ("Pacing a
// sender"), word for word: it sends one message to one client, and while
// that client's queue is full it waits for the "drain" event (forwarded to
// drained) and tries the same message again.
func docsSendPaced(srv *server.Server, clientID string, drained <-chan struct{}, topic string, msg any) error {
	for {
		err := srv.Send(topic, msg, clientID)
		if !errors.Is(err, message.ErrQueueFull) {
			return err // sent (nil), or a failure that waiting won't fix
		}
		conn := srv.Conn(clientID)
		if conn == nil {
			return err // the client left meanwhile
		}
		select {
		case <-drained: // the queue has emptied: try again
		case <-conn.Done(): // the client left while we waited
			return err
		}
	}
}

// USAGE/ADVANCED "Pacing a sender": a server sends 3,000 messages of 1 KiB
// to one client through a 4 KiB send queue, waiting for "drain" whenever a
// Send is refused. The queue does fill (the client does not read until the
// first refusal), and every message arrives, once, in order.
func TestDocsPacedSender(t *testing.T) {
	leakcheck.Check(t)
	guard(t, 60*time.Second)
	const n = 3000
	srv, log := startServer(t, server.Options{MaxQueueBytes: 4 << 10})
	cli, clog, id := connectClient(t, log, srv.SocketFile(), "all")

	drained := make(chan struct{}, 1)
	srv.On("drain", func(clientID string) {
		if clientID == id {
			select {
			case drained <- struct{}{}:
			default:
			}
		}
	})
	refused := make(chan struct{})
	var refusedOnce sync.Once
	srv.On("error", func(err error) {
		if errors.Is(err, message.ErrQueueFull) {
			refusedOnce.Do(func() { close(refused) })
		}
	})

	var got []int // only touched by the client's listeners
	cli.On("message.seq", func(m docsItem) {
		if len(got) == 0 {
			// Hold the client's reader until the server has been refused once,
			// so that the pacing is exercised for sure.
			select {
			case <-refused:
			case <-time.After(eventlog.Timeout):
			}
		}
		got = append(got, m.N)
		if len(got) == n {
			clog.Add("all")
		}
	})

	for i := range n {
		require.NoError(t, docsSendPaced(srv, id, drained, "seq", docsItem{N: i, Pad: docsPad}), "message %d", i)
	}
	clog.Wait(t, "all")
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	require.Equal(t, want, got)

	refusals := 0
	for _, e := range log.All() {
		if e.Name == "error" {
			require.ErrorIs(t, e.Err(), message.ErrQueueFull, "the only errors are the refusals")
			refusals++
		}
	}
	require.Positive(t, refusals, "the queue never filled")
	require.Positive(t, log.Count("drain"))
	t.Logf("%d messages through a 4 KiB queue; %d refusals, %d drains", n, refusals, log.Count("drain"))
}

// USAGE "Working with client ids": a server that identifies its clients by
// a hello message they send on every connect. A client that reconnects gets
// a new id; the hello registers the new id under the same name; the old id
// is gone (Send to it fails with ErrBadClient) and is not in ClientIDs.
func TestDocsIdentifyClientsByHello(t *testing.T) {
	leakcheck.Check(t)
	type hello struct {
		Name string `json:"name"`
	}
	srv, log := startServer(t, server.Options{}, "registered", "message.work")
	names := map[string]string{} // client id -> name; only listeners touch it
	srv.On("message.hello", func(h hello, clientID string) {
		names[clientID] = h.Name
		log.Add("registered", clientID, h.Name)
	})
	srv.On("connectionClose", func(clientID string) { delete(names, clientID) })

	cli, clog := newClient(t, srv.SocketFile(), "message.work", "reconnect")
	cli.On("connect", func() { cli.Send("hello", hello{Name: "worker-1"}) })
	require.NoError(t, cli.Connect())
	reg := log.Wait(t, "registered")
	id1 := reg.Arg(0).(string)
	assert.Equal(t, "worker-1", reg.Arg(1))

	// The server drops the connection; the client reconnects and says hello again.
	srv.Conn(id1).Close()
	assert.Equal(t, []any{id1}, log.Wait(t, "connectionClose").Args)
	clog.Wait(t, "reconnect")
	reg = log.Wait(t, "registered")
	id2 := reg.Arg(0).(string)
	assert.Equal(t, "worker-1", reg.Arg(1), "the same client, known by its name")
	assert.NotEqual(t, id1, id2, "a new id on every connection")
	assert.Equal(t, []string{id2}, srv.ClientIDs())
	assert.Nil(t, srv.Conn(id1))

	err := srv.Send("work", 1, id1)
	require.ErrorIs(t, err, message.ErrBadClient)
	requireEmitted(t, log, err)
	require.NoError(t, srv.Send("work", 2, id2))
	assert.Equal(t, []any{2.0}, clog.Wait(t, "message.work").Args)

	// The registry, as the listeners see it: only the live connection.
	srv.On("message.whois", func() { log.Add("names", maps.Clone(names)) })
	require.NoError(t, cli.Send("whois", nil))
	assert.Equal(t, map[string]string{id2: "worker-1"}, log.Wait(t, "names").Arg(0))
}

// USAGE "Event timing": a listener that takes its time holds back every
// later event of its Server. While it blocks, a Send that fails returns its
// error at once but the "error" event waits; a connection that ends closes
// its Done channel at once but "connectionClose" waits. A Send from inside
// a listener does not run the error listener either: its error event comes
// after the listener returns. The ended connection's id is gone before its
// connectionClose is delivered: Send to it fails with ErrBadClient.
func TestDocsSlowListenerDelaysLaterEvents(t *testing.T) {
	leakcheck.Check(t)
	guard(t, 60*time.Second)
	srv, log := startServer(t, server.Options{}, "message.block", "listener returned")
	p := dialRaw(t, srv, log)
	q := dialRaw(t, srv, log)
	qConn := srv.Conn(q.ID)
	require.NotNil(t, qConn)

	errorListenerRan := false // only touched by listeners
	srv.On("error", func() { errorListenerRan = true })
	entered := make(chan struct{})
	release := make(chan struct{})
	var inside []string
	srv.On("message.block", func() {
		err := srv.Send("x", 1, "no-such-client")
		inside = append(inside, "send returned "+err.Error())
		if errorListenerRan {
			inside = append(inside, "the error listener ran inside Send")
		}
		close(entered)
		<-release
		log.Add("listener returned")
	})

	p.write(t, frameJSON("block", "1"))
	select {
	case <-entered:
	case <-time.After(ioTimeout):
		t.Fatal("the listener was not called")
	}

	// From another goroutine, while the listener blocks.
	err := srv.Send("y", 2, "another-missing-client")
	require.ErrorIs(t, err, message.ErrBadClient, "Send returns its error at once")
	require.NoError(t, q.Close())
	select {
	case <-qConn.Done():
	case <-time.After(ioTimeout):
		t.Fatal("Conn.Done waited for the blocked listener")
	}
	assert.Zero(t, log.Count("error"), "no error event while the listener blocks")
	assert.Zero(t, log.Count("connectionClose"), "no connectionClose while the listener blocks")
	// The ended connection's id is already gone, before its connectionClose.
	assert.Nil(t, srv.Conn(q.ID))
	assert.Equal(t, []string{p.ID}, srv.ClientIDs())
	require.ErrorIs(t, srv.Send("z", 3, q.ID), message.ErrBadClient)

	close(release)
	log.Wait(t, "connectionClose")
	log.WaitCount(t, "error", 3)
	names := log.Names()
	ret := slices.Index(names, "listener returned")
	require.GreaterOrEqual(t, ret, 0)
	assert.Equal(t, []string{"listener returned", "error", "error", "connectionClose", "error"}, names[ret:])
	require.Len(t, inside, 1, "%v", inside)
	assert.Contains(t, inside[0], "send returned")
}

// USAGE "Event timing": once Close has returned there is no event loop any
// more, so the error of a later Send is emitted on the goroutine that calls
// Send, before Send returns.
func TestDocsSendErrorAfterCloseIsEmittedInline(t *testing.T) {
	leakcheck.Check(t)
	srv, _ := startServer(t, server.Options{})
	require.NoError(t, srv.Close())
	var seen error
	srv.On("error", func(err error) { seen = err })
	err := srv.Send("late", 1, "someone")
	require.ErrorIs(t, err, message.ErrSendAfterClose)
	assert.Same(t, err, seen, "the error listener ran inside Send")
}

// docsMeetTranscoder is the JSON transcoder, except that the first call of
// SplitEnvelope waits (up to eventlog.Timeout) until a second call has
// started: it proves that two connections' readers call it at once.
type docsMeetTranscoder struct {
	message.Transcoder
	mu      sync.Mutex
	started int
	met     chan struct{}
}

func (m *docsMeetTranscoder) SplitEnvelope(frame []byte) ([]byte, []byte, error) {
	m.mu.Lock()
	m.started++
	if m.started == 2 {
		close(m.met)
	}
	m.mu.Unlock()
	select {
	case <-m.met:
	case <-time.After(eventlog.Timeout):
	}
	return m.Transcoder.SplitEnvelope(frame)
}

// ADVANCED "Custom transcoders": a Transcoder is called from several
// goroutines at once (here: the readers of two connections), so it must be
// safe for concurrent use.
func TestDocsTranscoderCalledConcurrently(t *testing.T) {
	leakcheck.Check(t)
	guard(t, 60*time.Second)
	tc := &docsMeetTranscoder{Transcoder: message.JSON, met: make(chan struct{})}
	srv, log := startServer(t, server.Options{Transcoder: tc}, "message.t")
	a := dialRaw(t, srv, log)
	b := dialRaw(t, srv, log)
	a.write(t, frameJSON("t", `"a"`))
	b.write(t, frameJSON("t", `"b"`))
	log.WaitCount(t, "message.t", 2)
	select {
	case <-tc.met:
	default:
		t.Fatal("SplitEnvelope was never called by two goroutines at once")
	}
	assert.Zero(t, log.Count("error"), "%v", log.All())
}

// USAGE "A note on safety": the stale-file reclaim removes a socket that
// refuses connections only if the path still holds that very socket. Here a
// regular file is renamed over a stale socket while Listen runs, at many
// different moments, and it always survives, whichever step of Listen the
// rename lands in: Listen fails (when the rename lands between the probe and
// the removal it says the path "changed while it was checked"), or Listen
// wins the race and then neither it nor Close removes the newcomer. The test
// skips (after its checks) if no run hit the window between the probe and
// the removal.
func TestDocsReclaimRechecksTheFile(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	dir := filepath.Dir(path)
	file := filepath.Join(dir, "precious")
	runs, hits := 0, 0
	deadline := time.Now().Add(5 * time.Second)
	for ; runs < 4000 && (hits < 3 || runs < 200) && time.Now().Before(deadline); runs++ {
		_ = os.Remove(path)
		ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		require.NoError(t, err)
		ul.SetUnlinkOnClose(false)
		require.NoError(t, ul.Close()) // a stale socket, as a crashed server leaves
		require.NoError(t, os.WriteFile(file, []byte("precious"), 0o644))

		srv, err := server.New(server.Options{SocketFile: path})
		require.NoError(t, err)
		srv.On("error", func(error) {})
		spin := (runs % 250) * 40
		renamed := make(chan error, 1)
		go func() {
			for k := 0; k < spin; k++ {
				_ = k // a busy wait of a varying length, to vary the moment
			}
			renamed <- os.Rename(file, path)
		}()
		listenErr := srv.Listen()
		require.NoError(t, <-renamed)
		b, err := os.ReadFile(path)
		require.NoError(t, err, "run %d: the file is gone after Listen (%v)", runs, listenErr)
		require.Equal(t, "precious", string(b), "run %d", runs)
		require.NoError(t, srv.Close())
		b, err = os.ReadFile(path)
		require.NoError(t, err, "run %d: Close removed the file (Listen: %v)", runs, listenErr)
		require.Equal(t, "precious", string(b), "run %d", runs)

		if listenErr != nil {
			require.ErrorIs(t, listenErr, syscall.EADDRINUSE)
			if strings.Contains(listenErr.Error(), "changed while it was checked") {
				hits++
			}
		}
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, e := range entries {
			require.Contains(t, []string{"s.sock"}, e.Name(), "run %d: left in the folder", runs)
		}
	}
	// Every run above checked that the file survived; how many runs landed
	// in the narrow window depends on scheduling, so it is reported, not asserted.
	t.Logf("%d runs: the swap landed between the probe and the removal %d times", runs, hits)
}

// ADVANCED "The frame size limit": MaxFrameSize limits what a server
// receives, not what it sends: with a 100-byte limit it still sends a frame
// of 1,000 bytes, which the peer gets whole.
func TestDocsFrameLimitIsForIncomingOnly(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{MaxFrameSize: 100})
	p := dialRaw(t, srv, log)
	big := strings.Repeat("b", 1000)
	require.NoError(t, srv.Send("big", big, p.ID))
	assert.Equal(t, `{"topic":"big","message":"`+big+`"}`, string(p.frame(t)))
	assert.Zero(t, log.Count("error"), "%v", log.All())
}
