package conn

import (
	"syscall"
)

// socketReader is what a connection's FrameReader reads from. Its
// WaitReadable lets the FrameReader give its read buffer back while the
// peer is quiet, so an idle connection holds no read buffer (see
// message.NewFrameReader).
type socketReader struct{ c *Conn }

func (r socketReader) Read(p []byte) (int, error) { return r.c.nc.Read(p) }

// WaitReadable returns once a Read would not block: input, the end of the
// stream or an error is there. It honours the socket's read deadline and
// fails like a Read once the socket is closed. Then it takes the reader's
// share of the read budget: a connection holds none while it waits.
func (r socketReader) WaitReadable() error {
	c := r.c
	c.unreserve()
	var probe [1]byte
	err := c.raw.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), probe[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return err != syscall.EAGAIN
	})
	if err != nil {
		return err
	}
	return c.reserve(nil)
}

// reserve takes the reader's share of the budget before a read, calling
// beforeWait first if it has to wait; it runs on the reader only.
func (c *Conn) reserve(beforeWait func()) error {
	if c.cfg.ReadBudget == nil || c.reserved > 0 {
		return nil
	}
	if err := c.cfg.ReadBudget.acquire(readReservation, &c.budgetWait, beforeWait, c.stop, c.closingCh); err != nil {
		return err
	}
	c.reserved = readReservation
	return nil
}

func (c *Conn) unreserve() {
	if c.reserved > 0 {
		c.cfg.ReadBudget.release(c.reserved)
		c.reserved = 0
	}
}
