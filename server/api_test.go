package server_test

import (
	"errors"
	"os"
	"reflect"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
)

// methodsOf lists the exported methods of t with their signatures.
func methodsOf(t reflect.Type) []string {
	var out []string
	for i := range t.NumMethod() {
		m := t.Method(i)
		out = append(out, m.Name+" "+m.Type.String())
	}
	slices.Sort(out)
	return out
}

// A Conn is a type of its own package with exactly these methods and no
// exported field: nothing reachable from it can start, feed or re-run
// the connection's reader and writer (the internal connection's Run,
// Enqueue, Abort, ... are not there), and its PeerCred is a type of the
// same package, not an alias of an internal one.
func TestConnExposesOnlyItsMethods(t *testing.T) {
	assert.Equal(t, []string{
		"Close func(*server.Conn) error",
		"Done func(*server.Conn) <-chan struct {}",
		"ID func(*server.Conn) string",
		"PeerCred func(*server.Conn) (server.PeerCred, error)",
		"QueuedBytes func(*server.Conn) int",
	}, methodsOf(reflect.TypeFor[*server.Conn]()))
	assert.Equal(t, []string{
		"Close func(*client.Conn) error",
		"Done func(*client.Conn) <-chan struct {}",
		"PeerCred func(*client.Conn) (client.PeerCred, error)",
		"QueuedBytes func(*client.Conn) int",
	}, methodsOf(reflect.TypeFor[*client.Conn]()))
	for _, ty := range []reflect.Type{reflect.TypeFor[server.Conn](), reflect.TypeFor[client.Conn]()} {
		for i := range ty.NumField() {
			assert.False(t, ty.Field(i).IsExported(), "%v has an exported field %s", ty, ty.Field(i).Name)
		}
	}
	for ty, pkg := range map[reflect.Type]string{
		reflect.TypeFor[server.Conn]():     "github.com/socketipc/socketipc/server",
		reflect.TypeFor[server.PeerCred](): "github.com/socketipc/socketipc/server",
		reflect.TypeFor[client.Conn]():     "github.com/socketipc/socketipc/client",
		reflect.TypeFor[client.PeerCred](): "github.com/socketipc/socketipc/client",
	} {
		assert.Equal(t, pkg, ty.PkgPath(), "%v is declared in its own package", ty)
	}
}

// Closing a server's Conn twice is fine: the first call waits for the
// connection to end (Done is closed when it returns), the second returns
// at once; connectionClose comes once, and the server goes on.
func TestConnCloseTwice(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{})
	_, _, id := connectClient(t, log, srv.SocketFile())
	c := srv.Conn(id)
	require.NotNil(t, c)
	require.NoError(t, c.Close())
	select {
	case <-c.Done():
	default:
		t.Fatal("Done is not closed when Close returns")
	}
	require.NoError(t, c.Close())
	log.Wait(t, "connectionClose")
	assert.Nil(t, srv.Conn(id))
	_, _, id2 := connectClient(t, log, srv.SocketFile())
	require.NoError(t, srv.Send("after", 1, id2))
	assert.Equal(t, 1, log.Count("connectionClose"))
}

// The client's Conn: Close twice, then the client reconnects with a new Conn.
func TestClientConnCloseTwice(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{})
	cli, clog, _ := connectClient(t, log, srv.SocketFile(), "reconnect")
	first := cli.Conn()
	require.NotNil(t, first)
	require.NoError(t, first.Close())
	<-first.Done()
	require.NoError(t, first.Close())
	clog.Wait(t, "reconnect")
	assert.NotSame(t, first, cli.Conn())
	assert.Equal(t, 1, clog.Count("disconnect"))
}

// The zero Server and Client are not usable, and say so: no method panics,
// and those that return an error return ErrNotCreated.
func TestZeroValuesDoNotPanic(t *testing.T) {
	for _, v := range []any{&server.Server{}, &client.Client{}} {
		rv := reflect.ValueOf(v)
		for i := range rv.NumMethod() {
			m := rv.Method(i)
			name := rv.Type().Method(i).Name
			args := make([]reflect.Value, m.Type().NumIn())
			for j := range args {
				args[j] = reflect.Zero(m.Type().In(j))
			}
			var out []reflect.Value
			require.NotPanics(t, func() {
				if m.Type().IsVariadic() {
					out = m.CallSlice(args)
				} else {
					out = m.Call(args)
				}
			}, "%T.%s", v, name)
			for _, o := range out {
				if err, ok := o.Interface().(error); ok && o.Type() == reflect.TypeFor[error]() {
					assert.ErrorContains(t, err, "not created with", "%T.%s", v, name)
				}
			}
		}
	}
	var s server.Server
	assert.ErrorIs(t, s.Listen(), server.ErrNotCreated)
	var c client.Client
	assert.ErrorIs(t, c.Connect(), client.ErrNotCreated)
}

// The package docs (go doc ./server, go doc ./client) list every event with
// its constant and the signature of the listener that gets all its arguments.
func TestPackageDocsListEveryEvent(t *testing.T) {
	docs := map[string]map[string]string{
		"doc.go": {
			server.EventListening: "EventListening", server.EventConnection: "EventConnection",
			server.EventConnectionClose: "EventConnectionClose", server.EventMessage: "EventMessage",
			server.EventDrain: "EventDrain", server.EventError: "EventError",
			server.EventClosed: "EventClosed", server.EventClose: "EventClose",
		},
		"../client/doc.go": {
			client.EventConnect: "EventConnect", client.EventReconnect: "EventReconnect",
			client.EventConnectError: "EventConnectError", client.EventDisconnect: "EventDisconnect",
			client.EventMessage: "EventMessage", client.EventDrain: "EventDrain",
			client.EventError: "EventError", client.EventClosed: "EventClosed", client.EventClose: "EventClose",
		},
	}
	for file, events := range docs {
		text, err := os.ReadFile(file)
		require.NoError(t, err)
		for name, constant := range events {
			assert.Regexp(t, `(?m)^//\t"`+regexp.QuoteMeta(name)+`" +`+constant+` +func\(`, string(text), "%s lists %q", file, name)
		}
		assert.Regexp(t, `(?m)^//\t"message\.<topic>" +func\(msg T`, string(text))
	}
}

// After Close, error events run at once on the failing caller's goroutine;
// their listeners may still call anything (no lock of the Server is held).
func TestErrorListenerAfterCloseMayCallAnything(t *testing.T) {
	leakcheck.Check(t)
	srv, err := server.New(server.Options{SocketFile: testsock.Path(t)})
	require.NoError(t, err)
	var inner []error
	srv.On("error", func(err error) {
		if errors.Is(err, server.ErrServerClosed) {
			inner = append(inner, srv.Send("t", 1, "nobody"), srv.Broadcast("t", 1))
			_ = srv.ClientIDs()
		}
	})
	require.NoError(t, srv.Close())
	done := make(chan error, 1)
	go func() { done <- srv.Listen() }()
	select {
	case err := <-done:
		require.ErrorIs(t, err, server.ErrServerClosed)
	case <-time.After(eventlog.Timeout):
		t.Fatal("Listen after Close deadlocked in its error listener")
	}
	require.Len(t, inner, 2)
	for _, err := range inner {
		assert.ErrorIs(t, err, message.ErrSendAfterClose)
	}
}
