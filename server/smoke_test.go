package server_test

import (
	"testing"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/eventlog"
	"github.com/socketipc/socketipc/internal/leakcheck"
	"github.com/socketipc/socketipc/internal/testsock"
	"github.com/socketipc/socketipc/server"
	"github.com/stretchr/testify/require"
)

func TestSmoke(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	srv, err := server.New(server.Options{SocketFile: path})
	require.NoError(t, err)
	slog := eventlog.Record(srv, "listening", "connection", "message", "message.hello", "error", "close", "closed", "connectionClose")
	require.NoError(t, srv.Listen())
	slog.Wait(t, "listening")

	cli, err := client.New(client.Options{SocketFile: path})
	require.NoError(t, err)
	clog := eventlog.Record(cli, "connect", "message", "message.hi", "error", "close", "closed", "disconnect")
	cli.On("connect", func() { cli.Send("hello", map[string]any{"name": "gopher"}) })
	srv.On("message.hello", func(msg struct{ Name string }, id string) { srv.Send("hi", "hello "+msg.Name, id) })
	require.NoError(t, cli.Connect())
	m := slog.Wait(t, "message")
	require.Equal(t, map[string]any{"name": "gopher"}, m.Arg(0))
	require.Equal(t, "hello", m.Arg(1))
	hi := clog.Wait(t, "message.hi")
	require.Equal(t, "hello gopher", hi.Arg(0))
	require.NoError(t, cli.Close())
	clog.Wait(t, "close")
	slog.Wait(t, "connectionClose")
	require.NoError(t, srv.Close())
	slog.Wait(t, "close")
	t.Log(slog.Names(), clog.Names())
}
