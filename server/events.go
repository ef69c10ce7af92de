package server

import (
	"github.com/socketipc/socketipc/emitter"
	"github.com/socketipc/socketipc/message"
)

// The names of the Server's events; see the package doc for each event's
// arguments. A message with topic T is also delivered as EventMessage+"."+T.
const (
	EventListening       = "listening"
	EventConnection      = "connection"
	EventConnectionClose = "connectionClose"
	EventMessage         = "message"
	EventDrain           = "drain"
	EventError           = "error"
	EventClosed          = "closed"
	EventClose           = "close"
)

// events declares every event with its arguments: a listener that can never
// receive them, or a name one typo away from one of them, panics at On.
var events = []emitter.Event{
	{Name: EventListening},
	{Name: EventConnection, Args: []emitter.Arg{emitter.ArgOf[string]("clientID"), emitter.ArgOf[*Conn]("conn")}},
	{Name: EventConnectionClose, Args: []emitter.Arg{emitter.ArgOf[string]("clientID"), emitter.ArgOf[*message.DiscardedError]("discarded")}},
	{Name: EventMessage, Args: []emitter.Arg{{Name: "msg", Type: emitter.PayloadType}, emitter.ArgOf[string]("topic"), emitter.ArgOf[string]("clientID")}},
	{Name: EventMessage + ".*", Args: []emitter.Arg{{Name: "msg", Type: emitter.PayloadType}, emitter.ArgOf[string]("clientID")}},
	{Name: EventDrain, Args: []emitter.Arg{emitter.ArgOf[string]("clientID")}},
	{Name: EventError, Args: []emitter.Arg{emitter.ArgOf[error]("err")}},
	{Name: EventClosed},
	{Name: EventClose},
}
