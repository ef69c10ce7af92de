package server_test

import (
	"testing"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/server"
	"github.com/stretchr/testify/require"
)

type Hello struct {
	Name string `json:"name"`
}

// The quick start of README.md, as written there.
func TestReadmeQuickStart(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)

	srv, err := server.New(server.Options{SocketFile: path})
	require.NoError(t, err)
	srv.On("message.hello", func(msg Hello, clientID string) {
		srv.Send("hi", "hello "+msg.Name, clientID)
	})
	srv.On("error", func(err error) { t.Error(err) })
	require.NoError(t, srv.Listen())
	defer srv.Close()

	cli, err := client.New(client.Options{SocketFile: path})
	require.NoError(t, err)
	got := &eventlog.Log{}
	cli.On("connect", func() {
		cli.Send("hello", Hello{Name: "gopher"})
	})
	cli.On("message.hi", func(text string) { got.Add("hi", text) })
	require.NoError(t, cli.Connect())
	defer cli.Close()

	require.Equal(t, "hello gopher", got.Wait(t, "hi").Arg(0))
}
