package client

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
