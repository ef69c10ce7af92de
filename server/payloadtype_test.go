package server_test

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
)

// A Go client sends an object to a server whose func(int) listener can't
// hold it: that is a mistake in the listener, not a bad frame, so the error
// is a *message.PayloadTypeError naming the event, the topic, the type and
// the client; the other listeners of the event still run, and the
// connection stays usable both ways.
func TestPayloadTypeErrorFromRealClient(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	srv, err := server.New(server.Options{SocketFile: path})
	require.NoError(t, err)
	log := eventlog.Record(srv, "listening", "connection", "error", "message.job")
	t.Cleanup(func() { _ = srv.Close() })
	srv.On("message.job", func(n int) { log.Add("int listener", n) })
	srv.On("message.job", func(job map[string]any, clientID string) {
		log.Add("map listener", job["name"], clientID)
		require.NoError(t, srv.Send("done", job["name"], clientID))
	})
	require.NoError(t, srv.Listen())
	log.Wait(t, "listening")

	cli, err := client.New(client.Options{SocketFile: path})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Close() })
	cliLog := eventlog.Record(cli, "connect", "error", "message.done")
	require.NoError(t, cli.Connect())
	cliLog.Wait(t, "connect")
	id := log.Wait(t, "connection").Arg(0).(string)

	require.NoError(t, cli.Send("job", map[string]any{"name": "first"}))
	err = log.Wait(t, "error").Err()
	var pte *message.PayloadTypeError
	require.ErrorAs(t, err, &pte)
	assert.Equal(t, "message.job", pte.Event)
	assert.Equal(t, "job", pte.Topic)
	assert.Equal(t, reflect.TypeFor[int](), pte.Type)
	assert.Equal(t, id, pte.ClientID)
	assert.Equal(t, `socketipc: message.job listener wants int, but the payload from client `+id+
		` does not fit: json: cannot unmarshal object into Go value of type int`, err.Error())
	assert.NotErrorAs(t, err, new(*message.DecodeError))

	// The other listener of the event ran, and the connection works both ways.
	assert.Equal(t, []any{"first", id}, log.Wait(t, "map listener").Args)
	assert.Equal(t, "first", cliLog.Wait(t, "message.done").Arg(0))
	require.NoError(t, cli.Send("job", 7))
	assert.Equal(t, []any{7}, log.Wait(t, "int listener").Args)
	require.NoError(t, cli.Send("job", map[string]any{"name": "second"}))
	assert.Equal(t, "second", cliLog.Wait(t, "message.done").Arg(0))

	require.NoError(t, cli.Close())
	require.NoError(t, srv.Close())
	// Each listener was skipped for the payload it could not hold, and only then.
	var skipped []reflect.Type
	for _, e := range log.All() {
		if e.Name == "error" {
			require.ErrorAs(t, e.Err(), &pte)
			skipped = append(skipped, pte.Type)
		}
	}
	assert.Equal(t, []reflect.Type{reflect.TypeFor[int](), reflect.TypeFor[map[string]any](), reflect.TypeFor[int]()}, skipped)
	assert.Equal(t, 0, cliLog.Count("error"))
}
