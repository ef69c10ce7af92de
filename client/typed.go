package client

import (
	"github.com/socketipc/socketipc/emitter"
	"github.com/socketipc/socketipc/internal/endpoint"
)

// OnMessage adds a listener of the server's messages of topic (the event
// "message.<topic>") with their payload decoded into a T, checked by the
// compiler, and returns the handle that removes it. fn is called
// directly, without reflection. A payload that does not fit T skips fn
// and emits a *message.PayloadTypeError naming the event, topic and T.
func OnMessage[T any](c *Client, topic string, fn func(msg T)) emitter.Handle {
	if fn == nil {
		return endpoint.OnMessage[T](c.e, topic, nil)
	}
	return endpoint.OnMessage(c.e, topic, func(msg T, _ string) { fn(msg) })
}
