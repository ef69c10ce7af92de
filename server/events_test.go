package server_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socketipc/socketipc/clientid"
	"github.com/socketipc/socketipc/emitter"
	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A whole life: every event, with its arguments, in order.
func TestEventsLifecycle(t *testing.T) {
	leakcheck.Check(t)
	srv, log := newServer(t, server.Options{}, "message.greet")
	require.NoError(t, srv.Listen())
	ev := log.Wait(t, "listening")
	assert.Empty(t, ev.Args, "listening carries no arguments")

	cli, clog, id := connectClient(t, log, srv.SocketFile())
	conn := log.All()[1]
	require.Equal(t, "connection", conn.Name)
	require.Len(t, conn.Args, 2)
	assert.True(t, clientid.Valid(id), "client id %q is not a canonical v4 UUID", id)
	c, ok := conn.Arg(1).(*server.Conn)
	require.True(t, ok, "connection's second argument is %T, not *server.Conn", conn.Arg(1))
	assert.Equal(t, id, c.ID())
	cred, err := c.PeerCred()
	require.NoError(t, err)
	assert.Equal(t, server.PeerCred{PID: int32(os.Getpid()), UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}, cred)
	assert.Same(t, c, srv.Conn(id))
	assert.Equal(t, []string{id}, srv.ClientIDs())

	require.NoError(t, cli.Send("greet", map[string]any{"name": "gopher", "n": 1}))
	m := log.Wait(t, "message")
	assert.Equal(t, []any{map[string]any{"name": "gopher", "n": 1.0}, "greet", id}, m.Args)
	mt := log.Wait(t, "message.greet")
	assert.Equal(t, []any{map[string]any{"name": "gopher", "n": 1.0}, id}, mt.Args)

	require.NoError(t, cli.Close())
	clog.Wait(t, "close")
	cc := log.Wait(t, "connectionClose")
	assert.Equal(t, []any{id}, cc.Args)
	select {
	case <-c.Done():
	case <-time.After(ioTimeout):
		t.Fatal("Conn.Done not closed after connectionClose")
	}
	assert.Nil(t, srv.Conn(id))
	assert.Empty(t, srv.ClientIDs())

	require.NoError(t, srv.Close())
	assert.Equal(t, []string{"listening", "connection", "message", "message.greet", "connectionClose", "closed", "close"}, log.Names())
	for _, e := range log.All() {
		if e.Name == "closed" || e.Name == "close" {
			assert.Empty(t, e.Args, "%s carries no arguments", e.Name)
		}
	}
}

// message comes before message.<topic> for every frame, also when many
// frames arrive in one read.
func TestEventsMessageBeforeTopic(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{}, "message.a", "message.b")
	p := dialRaw(t, srv, log)
	var stream []byte
	for i := range 50 {
		topic := []string{"a", "b"}[i%2]
		stream = append(stream, frameJSON(topic, "1")...)
	}
	p.write(t, stream)
	log.WaitCount(t, "message.b", 25)
	var names []string
	for _, e := range log.All() {
		if e.Name == "message" || e.Name == "message.a" || e.Name == "message.b" {
			names = append(names, e.Name)
		}
	}
	require.Len(t, names, 100)
	for i := 0; i < 100; i += 2 {
		topic := []string{"a", "b"}[i/2%2]
		require.Equal(t, []string{"message", "message." + topic}, names[i:i+2], "events %d and %d", i, i+1)
	}
}

// closed then close, exactly once each, whatever the number of Close calls
// and from wherever they come.
func TestEventsCloseOnce(t *testing.T) {
	t.Run("twice and concurrently", func(t *testing.T) {
		leakcheck.Check(t)
		srv, log := startServer(t, server.Options{})
		_, _, _ = connectClient(t, log, srv.SocketFile())
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = srv.Close()
			}()
		}
		wg.Wait()
		for _, err := range errs {
			assert.NoError(t, err)
		}
		require.NoError(t, srv.Close())
		// Every Close has returned, so the loop has delivered everything.
		assert.Equal(t, 1, log.Count("closed"))
		assert.Equal(t, 1, log.Count("close"))
		names := log.Names()
		require.GreaterOrEqual(t, len(names), 2)
		assert.Equal(t, []string{"closed", "close"}, names[len(names)-2:])
		assert.Zero(t, log.Count("error"), "errors: %v", log.All())
	})
	t.Run("from a listener", func(t *testing.T) {
		leakcheck.Check(t)
		guard(t, 30*time.Second)
		srv, log := startServer(t, server.Options{}, "message.stop")
		var closeErrs []error
		srv.On("message.stop", func() {
			closeErrs = append(closeErrs, srv.Close(), srv.Close())
		})
		srv.On("close", func() {
			closeErrs = append(closeErrs, srv.Close())
		})
		cli, clog, _ := connectClient(t, log, srv.SocketFile())
		require.NoError(t, cli.Send("stop", nil))
		log.Wait(t, "close")
		clog.Wait(t, "disconnect")
		require.NoError(t, srv.Close())
		// An error emitted now is delivered after anything queued before it.
		sendErr := srv.Send("late", 1, "nobody")
		require.ErrorIs(t, sendErr, message.ErrSendAfterClose)
		require.True(t, errors.Is(waitError(t, log), message.ErrSendAfterClose))
		assert.Equal(t, 1, log.Count("closed"))
		assert.Equal(t, 1, log.Count("close"))
		assert.Equal(t, []error{nil, nil, nil}, closeErrs)
		names := log.Names()
		i := indexOf(names, "closed")
		require.GreaterOrEqual(t, i, 0)
		assert.Equal(t, "close", names[i+1], "events: %v", names)
	})
	t.Run("without Listen", func(t *testing.T) {
		leakcheck.Check(t)
		srv, log := newServer(t, server.Options{})
		require.NoError(t, srv.Close())
		require.NoError(t, srv.Close())
		assert.Equal(t, []string{"closed", "close"}, log.Names())
	})
}

func indexOf(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}

type greeting struct {
	Name string `json:"name"`
	N    int    `json:"n"`
}

// Each listener's parameter types decide what it gets.
func TestListenerShapes(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{})
	var (
		asAny     any
		asRaw     json.RawMessage
		asStruct  greeting
		asPointer *greeting
		asMap     map[string]int
		ids       []string
		topics    []string
		calls     []string
	)
	srv.On("message", func(msg any, topic, id string) {
		asAny = msg
		topics = append(topics, topic)
		ids = append(ids, id)
		calls = append(calls, "any")
	})
	srv.On("message.g", func(msg json.RawMessage, id string) {
		asRaw = append(json.RawMessage(nil), msg...)
		ids = append(ids, id)
		calls = append(calls, "raw")
	})
	srv.On("message.g", func(msg greeting, id string) {
		asStruct = msg
		ids = append(ids, id)
		calls = append(calls, "struct")
	})
	srv.On("message.g", func(msg *greeting) { asPointer = msg; calls = append(calls, "pointer") })
	srv.On("message.g", func(msg map[string]int) { asMap = msg; calls = append(calls, "map") })
	srv.On("message.g", func() { calls = append(calls, "none") })
	srv.On("message.g", func(msg any) { calls = append(calls, "fewer") })
	srv.On("message.g", func(args ...any) { log.Add("done", args...) })

	p := dialRaw(t, srv, log)
	payload := `{"name":"gopher","n":7}`
	p.write(t, frameJSON("g", payload))
	done := log.Wait(t, "done")
	assert.Equal(t, []any{map[string]any{"name": "gopher", "n": 7.0}, p.ID}, done.Args)

	assert.Equal(t, map[string]any{"name": "gopher", "n": 7.0}, asAny)
	assert.Equal(t, payload, string(asRaw))
	assert.Equal(t, greeting{Name: "gopher", N: 7}, asStruct)
	require.NotNil(t, asPointer)
	assert.Equal(t, greeting{Name: "gopher", N: 7}, *asPointer)
	assert.Nil(t, asMap, "the map[string]int listener can't take the payload and is skipped")
	assert.Equal(t, []string{"g"}, topics)
	assert.Equal(t, []string{p.ID, p.ID, p.ID}, ids)
	assert.Equal(t, []string{"any", "raw", "struct", "pointer", "none", "fewer"}, calls)
	// map[string]int can't hold "gopher": that listener alone was skipped.
	err := waitError(t, log)
	var pte *message.PayloadTypeError
	require.ErrorAs(t, err, &pte)
	assert.Equal(t, p.ID, pte.ClientID)
	assert.Equal(t, reflect.TypeFor[map[string]int](), pte.Type)
}

// A payload that can't be decoded into a listener's type skips that
// listener only, and says so on "error" with a *message.PayloadTypeError
// naming the event, topic, type and client id.
func TestListenerDecodeError(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{}, "message.g")
	var before, after []any
	var typed []greeting
	srv.On("message.g", func(msg any) { before = append(before, msg) })
	srv.On("message.g", func(msg greeting) { typed = append(typed, msg) })
	srv.On("message.g", func(msg any) { after = append(after, msg) })
	srv.On("message.g", func() { log.Add("done") }) // after the listeners above
	p := dialRaw(t, srv, log)

	p.write(t, frameJSON("g", `"not an object"`))
	err := waitError(t, log)
	var pte *message.PayloadTypeError
	require.ErrorAs(t, err, &pte)
	assert.Equal(t, message.PayloadTypeError{Event: "message.g", Topic: "g", Type: reflect.TypeFor[greeting](), ClientID: p.ID, Err: pte.Err}, *pte)
	assert.NotErrorAs(t, err, new(*message.DecodeError), "the frame was valid: not the peer's fault")
	var ute *json.UnmarshalTypeError
	assert.ErrorAs(t, err, &ute, "the decoder's own error is in the chain")
	log.Wait(t, "done")
	assert.Equal(t, 1, log.Count("message"), "the message event itself was delivered")

	// The same listener still works for a payload that fits.
	p.write(t, frameJSON("g", `{"name":"ok","n":2}`))
	log.Wait(t, "done")
	assert.Equal(t, []any{"not an object", map[string]any{"name": "ok", "n": 2.0}}, before)
	assert.Equal(t, before, after)
	assert.Equal(t, []greeting{{Name: "ok", N: 2}}, typed)
	assert.Equal(t, 1, log.Count("error"))
}

// connectionClose comes for each client, with its id, whoever ends it.
func TestEventsConnectionCloseByEither(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{})
	a := dialRaw(t, srv, log)
	b := dialRaw(t, srv, log)
	require.NotEqual(t, a.ID, b.ID)
	require.NoError(t, a.Close())
	assert.Equal(t, []any{a.ID}, log.Wait(t, "connectionClose").Args)
	require.ElementsMatch(t, []string{b.ID}, srv.ClientIDs())
	require.NoError(t, b.CloseWrite()) // b ends its side; the server ends its own
	assert.Equal(t, []any{b.ID}, log.Wait(t, "connectionClose").Args)
	require.ErrorIs(t, b.readToEnd(t), io.EOF)
}

// AllowPeer sees each peer's credentials and can refuse it: no
// "connection", an error wrapping ErrPeerRefused, and the socket is closed.
func TestAllowPeer(t *testing.T) {
	leakcheck.Check(t)
	var refuse atomic.Bool
	var seen []server.PeerCred
	var mu sync.Mutex
	reason := errors.New("not today")
	srv, log := startServer(t, server.Options{AllowPeer: func(cred server.PeerCred) error {
		mu.Lock()
		seen = append(seen, cred)
		mu.Unlock()
		if refuse.Load() {
			return reason
		}
		return nil
	}})
	ok := dialRaw(t, srv, log)
	require.NoError(t, srv.Send("t", 1, ok.ID))
	ok.frame(t)

	refuse.Store(true)
	nc, err := net.Dial("unix", srv.SocketFile())
	require.NoError(t, err)
	defer nc.Close()
	err = waitError(t, log)
	require.ErrorIs(t, err, server.ErrPeerRefused)
	require.ErrorIs(t, err, reason)
	require.NoError(t, nc.SetReadDeadline(time.Now().Add(ioTimeout)))
	n, err := nc.Read(make([]byte, 1))
	assert.Zero(t, n)
	assert.ErrorIs(t, err, io.EOF, "the refused connection is closed")
	assert.Equal(t, 1, log.Count("connection"))
	assert.Equal(t, []string{ok.ID}, srv.ClientIDs())

	mu.Lock()
	defer mu.Unlock()
	me := server.PeerCred{PID: int32(os.Getpid()), UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
	assert.Equal(t, []server.PeerCred{me, me}, seen)
}

// A panicking listener is an error event; the server goes on.
func TestListenerPanic(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{}, "message.t")
	srv.On("message.t", func(msg any) {
		if msg == "boom" {
			panic("boom")
		}
	})
	p := dialRaw(t, srv, log)
	p.write(t, frameJSON("t", `"boom"`))
	err := waitError(t, log)
	var pe *emitter.PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "boom", pe.Value)
	assert.Equal(t, "message.t", pe.Event)
	p.write(t, frameJSON("t", `"fine"`))
	log.WaitCount(t, "message.t", 2)
	require.NoError(t, srv.Send("t", 1, p.ID))
	p.frame(t)
}

// An error nobody listens to goes to the Logger, not nowhere, unless a
// method returned it: then the caller has it, and logging it too would
// show it twice.
func TestOnlyUnreturnedErrorsAreLogged(t *testing.T) {
	leakcheck.Check(t)
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	srv, err := server.New(server.Options{SocketFile: testsock.Path(t), Logger: logger})
	require.NoError(t, err)
	closed := make(chan struct{})
	srv.On("close", func() { close(closed) })
	after := make(chan struct{})
	srv.On("message.after", func() { close(after) })
	require.NoError(t, srv.Listen())
	sendErr := srv.Send("t", 1, "nobody")
	require.ErrorIs(t, sendErr, message.ErrBadClient)

	nc, err := net.Dial("unix", srv.SocketFile())
	require.NoError(t, err)
	defer nc.Close()
	_, err = nc.Write(append([]byte("not json\x00\x00"), frameJSON("after", "1")...))
	require.NoError(t, err)
	select {
	case <-after: // the bad frame's error came before it
	case <-time.After(eventlog.Timeout):
		t.Fatal("no message after the bad frame")
	}
	require.NoError(t, srv.Close()) // the loop delivered everything
	<-closed
	assert.Contains(t, buf.String(), "unhandled error", "the bad frame's error is logged")
	assert.Contains(t, buf.String(), "not json")
	assert.NotContains(t, buf.String(), "nobody", "Send's error, returned, is not logged")
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Close ends every connection: a connectionClose for each, then closed and
// close; peers see a graceful end of stream.
func TestCloseEndsEveryConnection(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{})
	a := dialRaw(t, srv, log)
	b := dialRaw(t, srv, log)
	_, clog, cid := connectClient(t, log, srv.SocketFile())
	ends := make(chan error, 2)
	for _, p := range []*rawPeer{a, b} {
		go func() {
			_ = p.SetReadDeadline(time.Now().Add(ioTimeout))
			_, err := io.Copy(io.Discard, p.UnixConn)
			p.Close()
			ends <- err
		}()
	}
	require.NoError(t, srv.Close())
	for range 2 {
		assert.NoError(t, <-ends, "a graceful end of stream")
	}
	clog.Wait(t, "disconnect")
	names := log.Names()
	require.Len(t, names, 1+3+3+2, "events: %v", names)
	assert.Equal(t, []string{"connectionClose", "connectionClose", "connectionClose", "closed", "close"}, names[4:])
	var closedIDs []string
	for _, e := range log.All() {
		if e.Name == "connectionClose" {
			closedIDs = append(closedIDs, e.Arg(0).(string))
		}
	}
	assert.ElementsMatch(t, []string{a.ID, b.ID, cid}, closedIDs)
}

// A listener of "connection" can already send to the new client.
func TestSendFromConnectionListener(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{})
	srv.On("connection", func(id string) {
		if err := srv.Send("welcome", id, id); err != nil {
			panic(err)
		}
	})
	p := dialRaw(t, srv, log)
	assert.Equal(t, `{"topic":"welcome","message":"`+p.ID+`"}`, string(p.frame(t)))
	assert.Zero(t, log.Count("error"))
}
