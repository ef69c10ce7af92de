package server

// Stats are a Server's counters since New, as Server.Stats returns them: a
// snapshot, whose fields do not change afterwards. Counters of traffic add
// up every connection, those still open and those that ended.
type Stats struct {
	// MessagesIn is how many messages were received from clients (valid
	// frames read from the socket).
	MessagesIn uint64
	// BytesIn is the size of every frame received, valid or not,
	// delimiters included.
	BytesIn uint64
	// MessagesOut is how many messages Send and Broadcast accepted (a
	// Broadcast counts once for each client it was queued for). What a
	// connection that was dropped discarded stays counted: its
	// connectionClose event says how much that was.
	MessagesOut uint64
	// BytesOut is the size of the frames counted by MessagesOut,
	// delimiters included.
	BytesOut uint64
	// ConnectionsAccepted is how many clients were accepted (one
	// connection event each); ConnectionsOpen how many are connected now
	// (a connection counts until just before its connectionClose event).
	ConnectionsAccepted uint64
	ConnectionsOpen     int
	// ConnectionsRefused is how many connections were closed as soon as
	// they were accepted, refused by Options.AllowPeer or over
	// Options.MaxConnections.
	ConnectionsRefused uint64
	// QueueFull is how many sends a client's full queue refused
	// (message.ErrQueueFull): one per client that a Broadcast missed
	// for that reason.
	QueueFull uint64
	// DecodeErrors is how many frames received could not be decoded
	// (*message.DecodeError: malformed, or over MaxFrameSize). A frame
	// whose payload only a listener's decode finds malformed moves from
	// MessagesIn to DecodeErrors as it is delivered.
	DecodeErrors uint64
	// RequestsInFlight is how many requests are waiting for their reply
	// (sent by this server).
	RequestsInFlight int
}

// Stats returns the server's counters. They are kept all the time (at a
// cost too small to measure: per connection, counted by the goroutine
// that does the work) and added up when Stats is called; it is safe to
// call from any goroutine, a listener included. A zero Server has none.
func (s *Server) Stats() Stats {
	if s == nil {
		return Stats{}
	}
	n := s.e.Stats()
	return Stats{
		MessagesIn:          n.MessagesIn,
		BytesIn:             n.BytesIn,
		MessagesOut:         n.MessagesOut,
		BytesOut:            n.BytesOut,
		ConnectionsAccepted: n.Opened,
		ConnectionsOpen:     n.Open,
		ConnectionsRefused:  n.Refused,
		QueueFull:           n.QueueFull,
		DecodeErrors:        n.DecodeErrors,
		RequestsInFlight:    n.RequestsInFlight,
	}
}
