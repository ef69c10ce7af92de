// Package client is the connecting side of socketipc: a Client connects to a
// server's Unix socket file, retries until it can, reconnects when the
// connection drops, and exchanges messages with the server, reporting
// everything through events named as in the Node package socket-ipc.
//
// # Events
//
// Listeners are registered with On, Once, Prepend or PrependOnce (and
// OnMessage, typed); a listener may declare fewer parameters than its event
// carries. Each event, its constant, and the listener that receives all of
// its arguments:
//
//	"connect"          EventConnect      func(conn *Conn)
//	"reconnect"        EventReconnect    func(conn *Conn)
//	"connectError"     EventConnectError func(err error)
//	"disconnect"       EventDisconnect   func()
//	"message"          EventMessage      func(msg T, topic string)
//	"message.<topic>"                    func(msg T)
//	"drain"            EventDrain        func()
//	"error"            EventError        func(err error)
//	"closed"           EventClosed       func()
//	"close"            EventClose        func()
//
// connect comes with each connection made, the first and every reconnect;
// reconnect follows connect when the connection replaces one that dropped.
// connectError is a failed attempt (it is retried after
// Options.RetryDelay); disconnect, a connection that dropped (a reconnect
// follows after Options.ReconnectDelay). message and then message.<topic>
// come for each message received; T decides how the payload is decoded:
// any gets the plain JSON value (map[string]any, []any, float64, string,
// bool, nil), json.RawMessage the raw bytes, any other type a decoded T (a
// payload that does not fit skips that listener, with a
// *message.PayloadTypeError on error). drain says the send queue, after
// refusing a frame (message.ErrQueueFull), is empty again. error carries
// every failure: the errors methods return (emitted too, but not logged
// when no listener hears them) and those nobody returns (a bad frame from
// the server, giving up with ErrGaveUp), which go to Options.Logger when
// nobody listens. closed and then close are the last events.
//
// Events are delivered one at a time, in order, on the Client's event
// loop: two listeners never run at once, and each sees what earlier ones
// did. Emit adds the application's own events to that loop, and Do runs a
// func on it. See the emitter package for how listeners are called.
package client
