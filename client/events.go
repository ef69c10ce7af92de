package client

import "github.com/socketipc/socketipc/emitter"

// The names of the Client's events; see the package doc for each event's
// arguments. A message with topic T is also delivered as EventMessage+"."+T.
const (
	EventConnect      = "connect"
	EventReconnect    = "reconnect"
	EventConnectError = "connectError"
	EventDisconnect   = "disconnect"
	EventMessage      = "message"
	EventDrain        = "drain"
	EventError        = "error"
	EventClosed       = "closed"
	EventClose        = "close"
)

// events declares every event with its arguments: a listener that can never
// receive them, or a name one typo away from one of them, panics at On.
var events = []emitter.Event{
	{Name: EventConnect, Args: []emitter.Arg{emitter.ArgOf[*Conn]("conn")}},
	{Name: EventReconnect, Args: []emitter.Arg{emitter.ArgOf[*Conn]("conn")}},
	{Name: EventConnectError, Args: []emitter.Arg{emitter.ArgOf[error]("err")}},
	{Name: EventDisconnect},
	{Name: EventMessage, Args: []emitter.Arg{{Name: "msg", Type: emitter.PayloadType}, emitter.ArgOf[string]("topic")}},
	{Name: EventMessage + ".*", Args: []emitter.Arg{{Name: "msg", Type: emitter.PayloadType}}},
	{Name: EventDrain},
	{Name: EventError, Args: []emitter.Arg{emitter.ArgOf[error]("err")}},
	{Name: EventClosed},
	{Name: EventClose},
}
