// Package server is the listening side of socketipc: a Server binds a Unix
// socket file, gives each connection a client id, and exchanges messages
// with its clients, reporting everything through events named as in the
// Node package socket-ipc.
//
// # Events
//
// Listeners are registered with On, Once, Prepend or PrependOnce (and
// OnMessage, typed); a listener may declare fewer parameters than its event
// carries. Each event, its constant, and the listener that receives all of
// its arguments:
//
//	"listening"        EventListening       func()
//	"connection"       EventConnection      func(clientID string, conn *Conn)
//	"connectionClose"  EventConnectionClose func(clientID string, discarded *message.DiscardedError)
//	"message"          EventMessage         func(msg T, topic string, clientID string)
//	"message.<topic>"                       func(msg T, clientID string)
//	"drain"            EventDrain           func(clientID string)
//	"error"            EventError           func(err error)
//	"closed"           EventClosed          func()
//	"close"            EventClose           func()
//
// listening follows a successful Listen. connection comes when a client
// has connected, before any of its messages; connectionClose once its
// connection has ended, with discarded non-nil only when messages the
// connection had accepted were never written (Options.DisconnectSlowClients,
// or a flush that timed out). message and then message.<topic> come for
// each message received; T decides how the payload is decoded: any gets
// the plain JSON value (map[string]any, []any, float64, string, bool, nil),
// json.RawMessage the raw bytes, any other type a decoded T (a payload
// that does not fit skips that listener, with a *message.PayloadTypeError
// on error). drain says a client's send queue, after refusing a frame
// (message.ErrQueueFull), is empty again. error carries every failure: the
// errors methods return (emitted too, but not logged when no listener
// hears them) and those nobody returns (a peer's bad frame, a failed
// accept), which go to Options.Logger when nobody listens. closed and
// then close are the last events, once Close has ended every connection.
//
// Events are delivered one at a time, in order, on the Server's event
// loop: two listeners never run at once, and each sees what earlier ones
// did. Emit adds the application's own events to that loop, and Do runs a
// func on it. See the emitter package for how listeners are called.
package server
