package client_test

import (
	"testing"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Mistakes in a listener's registration fail at On, not at run time.
func TestRegistrationMistakesPanic(t *testing.T) {
	cli, err := client.New(client.Options{SocketFile: testsock.Path(t)})
	require.NoError(t, err)
	defer cli.Close()

	assert.Panics(t, func() { cli.On(client.EventConnect, func(int) {}) }, "connect carries a *client.Conn")
	assert.Panics(t, func() { cli.On(client.EventConnectError, func(*client.Conn) {}) })
	assert.Panics(t, func() { cli.On(client.EventMessage+".hi", func(any, string) {}) }, "message.<topic> carries the payload only")
	for _, typo := range []string{"conect", "Connect", "disconect", "reconect", "mesage.hi", "connecterror"} {
		assert.Panics(t, func() { cli.On(typo, func() {}) }, typo)
	}
	cli.On(client.EventConnect, func(c *client.Conn) {})
	cli.On(client.EventMessage, func(msg map[string]int, topic string) {})
	cli.On("progress", func(done, total int) {})
}
