package client_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/socketipc/socketipc/emitter"
	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/message"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type shape struct {
	N    int      `json:"n"`
	S    string   `json:"s"`
	List []string `json:"list"`
}

// The message parameter's type decides the decoding: any gets plain JSON
// values, json.RawMessage the bytes, a struct (or pointer) the decoded
// value; a listener may also take no parameters, or fewer than the event has.
func TestListenerShapes(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	srv := startServer(t, path)
	payload := map[string]any{"n": 7, "s": "x", "list": []string{"a", "b"}}
	srv.On("connection", func(id string) { srv.Send("shape", payload, id) })
	cli := newClient(t, fastOptions(path))
	got := eventlog.Record(cli, "error")
	cli.On("message.shape", func(msg any) { got.Add("any", msg) })
	cli.On("message.shape", func(msg json.RawMessage) { got.Add("raw", string(msg)) })
	cli.On("message.shape", func(msg shape) { got.Add("struct", msg) })
	cli.On("message.shape", func(msg *shape) { got.Add("pointer", *msg) })
	cli.On("message.shape", func(msg map[string]json.RawMessage) { got.Add("map", string(msg["list"])) })
	cli.On("message.shape", func() { got.Add("none") })
	cli.On("message", func(msg shape, topic string) { got.Add("message", msg, topic) })
	cli.On("message", func(msg any) { got.Add("message-short", msg) })
	cli.On("message", func(_ json.RawMessage, topic string) { got.Add("message-raw", topic) })
	require.NoError(t, cli.Connect())
	got.Wait(t, "none")
	require.NoError(t, cli.Close())

	want := shape{N: 7, S: "x", List: []string{"a", "b"}}
	plain := map[string]any{"n": 7.0, "s": "x", "list": []any{"a", "b"}}
	require.Equal(t, []eventlog.Event{
		{Name: "message", Args: []any{want, "shape"}},
		{Name: "message-short", Args: []any{plain}},
		{Name: "message-raw", Args: []any{"shape"}},
		{Name: "any", Args: []any{plain}},
		{Name: "raw", Args: []any{`{"list":["a","b"],"n":7,"s":"x"}`}},
		{Name: "struct", Args: []any{want}},
		{Name: "pointer", Args: []any{want}},
		{Name: "map", Args: []any{`["a","b"]`}},
		{Name: "none"},
	}, got.All())
}

// A payload that can't be decoded into a listener's type: that listener is
// skipped, a *message.PayloadTypeError (event, topic, type) goes to error, and the
// other listeners are still called.
func TestDecodeFailureIntoStruct(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	srv := startServer(t, path)
	srv.On("connection", func(id string) {
		srv.Send("shape", "not an object", id)
		srv.Send("shape", map[string]any{"n": 1}, id)
	})
	cli := newClient(t, fastOptions(path))
	got := eventlog.Record(cli, "error")
	cli.On("message.shape", func(msg any) { got.Add("any", msg) })
	cli.On("message.shape", func(msg shape) { got.Add("struct", msg.N) })
	cli.On("message.shape", func() { got.Add("none") })
	require.NoError(t, cli.Connect())
	got.WaitCount(t, "none", 2)
	require.NoError(t, cli.Close())

	require.Equal(t, []string{"any", "error", "none", "any", "struct", "none"}, got.Names())
	err := got.Wait(t, "error").Err()
	var pte *message.PayloadTypeError
	require.ErrorAs(t, err, &pte)
	assert.Equal(t, message.PayloadTypeError{Event: "message.shape", Topic: "shape", Type: reflect.TypeFor[shape](), Err: pte.Err}, *pte)
	assert.Empty(t, pte.ClientID)
	assert.NotErrorAs(t, err, new(*message.DecodeError), "the frame was valid: not the peer's fault")
	var ute *json.UnmarshalTypeError
	assert.ErrorAs(t, err, &ute, "the decoder's error is in the chain")
	require.Equal(t, 1, got.Wait(t, "struct").Arg(0))
}

// Messages that arrive while listeners run are delivered one at a time, in
// order: no two client listeners ever run at once.
func TestSerialDelivery(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	srv := startServer(t, path)
	const n = 2000
	sentAll := make(chan struct{})
	srv.On("connection", func(id string) {
		go func() { // from outside the server's loop, as fast as it goes
			defer close(sentAll)
			for i := range n {
				if err := srv.Send("seq", i, id); err != nil {
					t.Errorf("send %d: %v", i, err)
					return
				}
			}
		}()
	})
	cli := newClient(t, fastOptions(path))
	log := eventlog.Record(cli, "error", "close")
	var active, maxActive atomic.Int32
	enter := func() {
		a := active.Add(1)
		for m := maxActive.Load(); a > m && !maxActive.CompareAndSwap(m, a); m = maxActive.Load() {
		}
	}
	leave := func() { active.Add(-1) }
	work := func() {
		x := 0
		for i := range 2000 {
			x += i * i
		}
		_ = fmt.Sprint(x)
	}
	var next, outOfOrder atomic.Int32
	done := make(chan struct{})
	cli.On("connect", func() { enter(); work(); leave() })
	cli.On("message", func(msg int) {
		enter()
		defer leave()
		if msg == 0 {
			<-sentAll // hold the loop while every other message arrives
		}
		work()
		if int32(msg) != next.Load() {
			outOfOrder.Add(1)
		}
	})
	cli.On("message.seq", func(msg int) {
		enter()
		defer leave()
		work()
		if int32(msg) != next.Load() {
			outOfOrder.Add(1)
		}
		next.Add(1)
		if msg == n-1 {
			close(done)
		}
	})
	require.NoError(t, cli.Connect())
	within(t, 3*guard, "delivery", func() { <-done })
	require.NoError(t, cli.Close())
	require.EqualValues(t, 1, maxActive.Load(), "listeners ran concurrently")
	require.Zero(t, outOfOrder.Load(), "messages out of order")
	require.EqualValues(t, n, next.Load())
	require.Zero(t, log.Count("error"), "%v", log.All())
}

// From inside listeners, everything may be called: On, Once, Off,
// RemoveAllListeners, ListenerCount, EventNames, Emit, Send, Close.
func TestReentrantListeners(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	srv := startServer(t, path)
	slog := eventlog.Record(srv, "message.note", "connectionClose")
	srv.On("message.echo", func(msg any, id string) { srv.Send("echo", msg, id) })
	cli := newClient(t, fastOptions(path))
	log := eventlog.Record(cli, "connect", "custom", "later", "error", "closed", "close")
	var trace []string // only touched on the client's loop

	cli.On("connect", func() {
		h := cli.On("later", func() { trace = append(trace, "removed listener ran") })
		cli.Once("later", func() { trace = append(trace, "once") })
		cli.On("later", func() { trace = append(trace, "on") })
		cli.On("gone", func() { trace = append(trace, "gone ran") })
		assert.True(t, cli.Off(h))
		assert.False(t, h.Off(), "already removed")
		cli.RemoveAllListeners("gone")
		assert.Zero(t, cli.ListenerCount("gone"))
		assert.Contains(t, cli.EventNames(), "later")
		cli.Emit("custom", "nested")
		cli.Emit("later")
		cli.Emit("later")
		cli.Emit("gone")
		assert.NoError(t, cli.Send("echo", "round trip"))
		cli.On("connect", func() { trace = append(trace, "added during emit") })
	})
	closeErr := make(chan error, 1)
	cli.On("message.echo", func(msg string) {
		trace = append(trace, "echo "+msg)
		assert.NoError(t, cli.Send("note", "sent before Close"))
		closeErr <- cli.Close()
		err := cli.Send("late", 1)
		assert.ErrorIs(t, err, message.ErrSendAfterClose)
		cli.On("message.echo", func() {}) // registering after Close is harmless
	})
	require.NoError(t, cli.Connect())
	log.Wait(t, "close")
	within(t, guard, "Close inside listener", func() { require.NoError(t, <-closeErr) })
	within(t, guard, "Close", func() { require.NoError(t, cli.Close()) })
	slog.Wait(t, "connectionClose")
	require.Equal(t, []string{"message.note", "connectionClose"}, slog.Names(), "Close flushed the note")

	require.Equal(t, []string{"once", "on", "on", "echo round trip"}, trace)
	require.Equal(t, []string{"connect", "custom", "later", "later", "closed", "close"}, without(log.Names(), "error"))
	require.ErrorIs(t, log.Wait(t, "error").Err(), message.ErrSendAfterClose)
	require.Equal(t, 1, log.Count("error"))
}

// A panicking listener is recovered and reported on error; delivery goes on.
func TestListenerPanic(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	srv := startServer(t, path)
	srv.On("connection", func(id string) {
		srv.Send("boom", 1, id)
		srv.Send("fine", 2, id)
	})
	cli := newClient(t, fastOptions(path))
	log := eventlog.Record(cli, "error", "message.fine")
	boom := errors.New("boom")
	cli.On("message.boom", func() { panic(boom) })
	require.NoError(t, cli.Connect())
	require.Equal(t, 2.0, log.Wait(t, "message.fine").Arg(0))
	err := log.Wait(t, "error").Err()
	var pe *emitter.PanicError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "message.boom", pe.Event)
	require.ErrorIs(t, err, boom)
	require.NoError(t, cli.Close())
}
