package conn

// Closing is closed when a graceful close starts (Close, or the peer
// ended its side); Stopped when the connection is aborted or has ended.
// Together they tell a waiter that no more frames will be taken for it.
func (c *Conn) Closing() <-chan struct{} { return c.closingCh }
func (c *Conn) Stopped() <-chan struct{} { return c.stop }
