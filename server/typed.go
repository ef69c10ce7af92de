package server

import (
	"github.com/socketipc/socketipc/emitter"
	"github.com/socketipc/socketipc/internal/endpoint"
)

// OnMessage adds a listener of the messages of topic (the event
// "message.<topic>") with its payload decoded into a T, checked by the
// compiler, and returns the handle that removes it. fn is called directly,
// without reflection. A payload that does not fit T skips fn and emits a
// *message.PayloadTypeError naming the event, topic, T and client id;
// other listeners, and the connection, are unaffected.
func OnMessage[T any](s *Server, topic string, fn func(msg T, clientID string)) emitter.Handle {
	return endpoint.OnMessage(s.e, topic, fn)
}
