package server

import "github.com/socketipc/socketipc/emitter"

// On adds listener at the end of event's listeners and returns the handle
// that removes it (see Off). A listener is any func; the emitter package
// says how its parameters are filled, and the package doc lists each
// event's arguments. Registering something that is not a func panics.
func (s *Server) On(event string, listener any) emitter.Handle { return s.e.On(event, listener) }

// Once adds a listener that is removed before its first call.
func (s *Server) Once(event string, listener any) emitter.Handle { return s.e.Once(event, listener) }

// Prepend adds listener at the front of event's listeners.
func (s *Server) Prepend(event string, listener any) emitter.Handle {
	return s.e.Prepend(event, listener)
}

// PrependOnce adds a Once listener at the front of event's listeners.
func (s *Server) PrependOnce(event string, listener any) emitter.Handle {
	return s.e.PrependOnce(event, listener)
}

// Off removes the listener that h was returned for, and reports whether it
// was still registered (h.Off() does the same).
func (s *Server) Off(h emitter.Handle) bool { return h.Off() }

// RemoveAllListeners removes every listener of the given events, or of all
// events when none is given.
func (s *Server) RemoveAllListeners(events ...string) { s.e.RemoveAllListeners(events...) }

// ListenerCount returns the number of listeners of event.
func (s *Server) ListenerCount(event string) int { return s.e.ListenerCount(event) }

// Listeners returns a copy of event's listeners, in calling order.
func (s *Server) Listeners(event string) []any { return s.e.Listeners(event) }

// EventNames returns the names of the events that have listeners.
func (s *Server) EventNames() []string { return s.e.EventNames() }

// Emit delivers an application's own event to its listeners on the event
// loop, serially with every other event: called from a listener, it runs
// them at once, before returning (as Node's emit does); called from any
// other goroutine, it queues the event and returns. After Close has
// finished there is no loop: the listeners run at once on the calling
// goroutine. The names of the Server's own events should not be emitted
// this way.
func (s *Server) Emit(event string, args ...any) { s.e.Emit(event, args...) }

// Do runs fn on the event loop, after the events already queued, never at
// the same time as a listener: the way for other goroutines to touch what
// listeners own. It returns without waiting for fn. After Close has
// finished, fn runs at once on the calling goroutine.
func (s *Server) Do(fn func()) { s.e.Do(fn) }
