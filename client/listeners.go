package client

import "github.com/socketipc/socketipc/emitter"

// On adds listener at the end of event's listeners and returns the handle
// that removes it (see Off). A listener is any func; the emitter package
// says how its parameters are filled, and the package doc lists each
// event's arguments. Registering something that is not a func panics.
func (c *Client) On(event string, listener any) emitter.Handle { return c.e.On(event, listener) }

// Once adds a listener that is removed before its first call.
func (c *Client) Once(event string, listener any) emitter.Handle { return c.e.Once(event, listener) }

// Prepend adds listener at the front of event's listeners.
func (c *Client) Prepend(event string, listener any) emitter.Handle {
	return c.e.Prepend(event, listener)
}

// PrependOnce adds a Once listener at the front of event's listeners.
func (c *Client) PrependOnce(event string, listener any) emitter.Handle {
	return c.e.PrependOnce(event, listener)
}

// Off removes the listener that h was returned for, and reports whether it
// was still registered (h.Off() does the same).
func (c *Client) Off(h emitter.Handle) bool { return h.Off() }

// RemoveAllListeners removes every listener of the given events, or of all
// events when none is given.
func (c *Client) RemoveAllListeners(events ...string) { c.e.RemoveAllListeners(events...) }

// ListenerCount returns the number of listeners of event.
func (c *Client) ListenerCount(event string) int { return c.e.ListenerCount(event) }

// Listeners returns a copy of event's listeners, in calling order.
func (c *Client) Listeners(event string) []any { return c.e.Listeners(event) }

// EventNames returns the names of the events that have listeners.
func (c *Client) EventNames() []string { return c.e.EventNames() }

// Emit delivers an application's own event to its listeners on the event
// loop, serially with every other event: called from a listener, it runs
// them at once, before returning (as Node's emit does); called from any
// other goroutine, it queues the event and returns. After Close has
// finished there is no loop: the listeners run at once on the calling
// goroutine. The names of the Client's own events should not be emitted
// this way.
func (c *Client) Emit(event string, args ...any) { c.e.Emit(event, args...) }

// Do runs fn on the event loop, after the events already queued, never at
// the same time as a listener: the way for other goroutines to touch what
// listeners own. It returns without waiting for fn. After Close has
// finished, fn runs at once on the calling goroutine.
func (c *Client) Do(fn func()) { c.e.Do(fn) }
