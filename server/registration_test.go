package server_test

import (
	"testing"

	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Mistakes in a listener's registration fail at On, not at run time.
func TestRegistrationMistakesPanic(t *testing.T) {
	srv, err := server.New(server.Options{SocketFile: testsock.Path(t)})
	require.NoError(t, err)
	defer srv.Close()

	assert.PanicsWithValue(t,
		`emitter: a listener for "connection" must be func(clientID string, conn *server.Conn), or take fewer parameters; got func(int): parameter 1 (int) can never hold clientID (string)`,
		func() { srv.On(server.EventConnection, func(int) {}) })
	assert.Panics(t, func() { srv.On(server.EventError, func(string) {}) }, "error carries an error")
	assert.Panics(t, func() { srv.On(server.EventMessage+".hello", func(any, string, string) {}) }, "too many parameters")
	for _, typo := range []string{"mesage", "Message", "conection", "connectionclose", "message_hello", "eror"} {
		assert.Panics(t, func() { srv.On(typo, func() {}) }, typo)
	}
	assert.PanicsWithValue(t, `emitter: event "mesage" is not one this emitter emits; did you mean "message"?`,
		func() { srv.On("mesage", func() {}) })

	// What is legal stays legal: fewer parameters, any, a struct payload,
	// and application events far from the library's names.
	srv.On(server.EventConnection, func(string) {})
	srv.On(server.EventConnection, func(id string, c *server.Conn) {})
	srv.On(server.EventMessage+".hello", func(msg struct{ Name string }, clientID string) {})
	srv.On(server.EventError, func(err any) {})
	srv.On("jobDone", func(n int) {})
}
