package client

// Stats are a Client's counters since New, as Client.Stats returns them: a
// snapshot, whose fields do not change afterwards. Counters of traffic add
// up every connection the client made, the current one and those that
// dropped.
type Stats struct {
	// MessagesIn is how many messages were received from the server
	// (valid frames read from the socket).
	MessagesIn uint64
	// BytesIn is the size of every frame received, valid or not,
	// delimiters included.
	BytesIn uint64
	// MessagesOut is how many messages Send accepted; what a connection
	// that dropped had not written stays counted.
	MessagesOut uint64
	// BytesOut is the size of the frames counted by MessagesOut,
	// delimiters included.
	BytesOut uint64
	// Connects is how many connections the client made (one connect event
	// each); Reconnects how many of them followed a dropped connection
	// (one reconnect event each).
	Connects   uint64
	Reconnects uint64
	// Connected: a connection is live now (from just before its connect
	// event until just before its disconnect event).
	Connected bool
	// QueueFull is how many sends the full queue refused
	// (message.ErrQueueFull).
	QueueFull uint64
	// DecodeErrors is how many frames received could not be decoded
	// (*message.DecodeError: malformed, or over MaxFrameSize). A frame
	// whose payload only a listener's decode finds malformed moves from
	// MessagesIn to DecodeErrors as it is delivered.
	DecodeErrors uint64
	// RequestsInFlight is how many requests are waiting for their reply
	// (sent by this client).
	RequestsInFlight int
}

// Stats returns the client's counters. They are kept all the time (at a
// cost too small to measure: counted by the goroutine that does the work)
// and added up when Stats is called; it is safe to call from any
// goroutine, a listener included. A zero Client has none.
func (c *Client) Stats() Stats {
	if c == nil {
		return Stats{}
	}
	n := c.e.Stats()
	return Stats{
		MessagesIn:       n.MessagesIn,
		BytesIn:          n.BytesIn,
		MessagesOut:      n.MessagesOut,
		BytesOut:         n.BytesOut,
		Connects:         n.Opened,
		Reconnects:       n.Reconnects,
		Connected:        n.Open > 0,
		QueueFull:        n.QueueFull,
		DecodeErrors:     n.DecodeErrors,
		RequestsInFlight: n.RequestsInFlight,
	}
}
