package server

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
