// Package eventbus forwards events of a socketipc emitter (an
// *emitter.Emitter, a Server, a Client) onto an application's own
// github.com/asaskevich/EventBus bus, for applications already built around
// one. The emitter core does not depend on EventBus; only this package does.
//
// Bus handlers run synchronously inside the emitter's Emit, under the bus's
// own mutex: a handler may call back into the socketipc emitter (On, Off,
// Send, ...) but, as with any EventBus handler, must not call the bus itself
// (Subscribe, Unsubscribe, Publish, HasCallback), which would deadlock.
package eventbus

import (
	"sync"

	EventBus "github.com/asaskevich/EventBus"

	"github.com/socketipc/socketipc/emitter"
)

// Source is anything with an emitter's On: *emitter.Emitter, and the
// Server and Client, which delegate to one.
type Source interface {
	On(event string, listener any) emitter.Handle
}

// Forward publishes each of the given events of src to the bus topic of the
// same name, with the event's arguments in order. An emitter.Payload
// argument (a message) is published as its PayloadValue, the plain value
// encoding/json makes (map[string]any, []any, float64, string, bool or
// nil); if that fails, the event is not published and src emits the error
// on "error", as for any listener. A nil argument is published as nil,
// which EventBus turns into the zero value of the handler's parameter.
//
// EventBus calls a handler with exactly the published arguments, so a bus
// handler must declare every argument of its event (see the Listeners
// section of the socketipc docs for each event's arguments): unlike an
// emitter listener, it cannot declare fewer. A panic in a bus handler is
// recovered by the emitter and emitted on src's "error".
//
// stop removes the forwarding listeners; it is safe to call more than once
// and from any goroutine.
func Forward(src Source, bus EventBus.Bus, events ...string) (stop func()) {
	handles := make([]emitter.Handle, 0, len(events))
	for _, event := range events {
		// A variadic ...any listener receives every argument, payloads
		// already converted by the emitter to their PayloadValue.
		handles = append(handles, src.On(event, func(args ...any) {
			bus.Publish(event, args...)
		}))
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			for _, h := range handles {
				h.Off()
			}
		})
	}
}
