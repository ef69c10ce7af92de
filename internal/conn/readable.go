package conn

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
