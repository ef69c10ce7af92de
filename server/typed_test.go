package server_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
)

type job struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

type typedCall struct {
	msg job
	id  string
}

// server.OnMessage's listener gets the payload as a T and the client id; a
// payload that does not fit T skips that listener only, with a
// *message.PayloadTypeError naming the event, topic, type and client (not
// a DecodeError: the frame was fine), and the next message is delivered.
func TestServerOnMessage(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{}, "message.job")
	calls := make(chan typedCall, 10)
	h := server.OnMessage(srv, "job", func(msg job, clientID string) { calls <- typedCall{msg, clientID} })
	p := dialRaw(t, srv, log)

	p.write(t, frameJSON("job", `{"id":7,"name":"build"}`))
	assert.Equal(t, typedCall{job{7, "build"}, p.ID}, receive(t, calls))

	p.write(t, frameJSON("job", `"not an object"`))
	err := waitError(t, log)
	var pte *message.PayloadTypeError
	require.ErrorAs(t, err, &pte)
	assert.Equal(t, "message.job", pte.Event)
	assert.Equal(t, "job", pte.Topic)
	assert.Equal(t, reflect.TypeFor[job](), pte.Type)
	assert.Equal(t, p.ID, pte.ClientID)
	var de *message.DecodeError
	assert.False(t, errors.As(err, &de), "not a DecodeError: %v", err)
	log.WaitCount(t, "message.job", 2) // the other listeners still got it

	p.write(t, frameJSON("job", `{"id":8}`))
	assert.Equal(t, typedCall{job{ID: 8}, p.ID}, receive(t, calls))
	assert.Len(t, calls, 0)

	require.True(t, h.Off())
	p.write(t, frameJSON("job", `{"id":9}`))
	log.WaitCount(t, "message.job", 4)
	assert.Len(t, calls, 0, "removed by its handle")
}

// A listener type of 64 bytes or more is decoded into a reused scratch
// value and copied out: each message still gets exactly its own fields,
// never those left by an earlier one, nor by one that failed half-way.
type bigJob struct {
	ID    int      `json:"id"`
	Name  string   `json:"name"`
	Tags  []string `json:"tags"`
	Owner *job     `json:"owner"`
	Note  string   `json:"note"`
	Extra [4]int   `json:"extra"`
}

func TestServerOnMessageLargeType(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{}, "message.big")
	got := make(chan bigJob, 10)
	server.OnMessage(srv, "big", func(msg bigJob, _ string) { got <- msg })
	p := dialRaw(t, srv, log)

	p.write(t, frameJSON("big", `{"id":1,"name":"a","tags":["x","y"],"owner":{"id":2,"name":"o"},"note":"n","extra":[1,2,3,4]}`))
	assert.Equal(t, bigJob{ID: 1, Name: "a", Tags: []string{"x", "y"}, Owner: &job{2, "o"}, Note: "n", Extra: [4]int{1, 2, 3, 4}}, receive(t, got))

	p.write(t, frameJSON("big", `{"id":3,"tags":["z"],"name":5}`)) // fails after id and tags
	var pte *message.PayloadTypeError
	require.ErrorAs(t, waitError(t, log), &pte)

	p.write(t, frameJSON("big", `{"note":"only"}`))
	assert.Equal(t, bigJob{Note: "only"}, receive(t, got))
	assert.Len(t, got, 0)
}

// client.OnMessage: the same on the client's side.
func TestClientOnMessage(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{})
	cli, err := client.New(client.Options{SocketFile: srv.SocketFile()})
	require.NoError(t, err)
	clog := eventlog.Record(cli, "connect", "error", "message.job")
	t.Cleanup(func() { _ = cli.Close() })
	got := make(chan job, 10)
	client.OnMessage(cli, "job", func(msg job) { got <- msg })
	require.NoError(t, cli.Connect())
	clog.Wait(t, "connect")
	id := log.Wait(t, "connection").Arg(0).(string)

	require.NoError(t, srv.Send("job", job{1, "a"}, id))
	assert.Equal(t, job{1, "a"}, receive(t, got))
	require.NoError(t, srv.Send("job", []int{1, 2}, id))
	var pte *message.PayloadTypeError
	require.ErrorAs(t, clog.Wait(t, "error").Err(), &pte)
	assert.Equal(t, "message.job", pte.Event)
	assert.Equal(t, reflect.TypeFor[job](), pte.Type)
	assert.Empty(t, pte.ClientID)
	require.NoError(t, srv.Send("job", job{2, "b"}, id))
	assert.Equal(t, job{2, "b"}, receive(t, got))
	clog.WaitCount(t, "message.job", 3)
}

// An application's Emit of a message event reaches typed listeners too,
// decoded from the raw JSON it carries.
func TestOnMessageFromEmit(t *testing.T) {
	leakcheck.Check(t)
	srv, _ := startServer(t, server.Options{})
	calls := make(chan typedCall, 1)
	server.OnMessage(srv, "job", func(msg job, clientID string) { calls <- typedCall{msg, clientID} })
	srv.Emit("message.job", []byte(`{"id":3}`), "me")
	assert.Equal(t, typedCall{job{ID: 3}, "me"}, receive(t, calls))
}

func receive[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(eventlog.Timeout):
		t.Fatal("nothing arrived")
		var zero T
		return zero
	}
}
