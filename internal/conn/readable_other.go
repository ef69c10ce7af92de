//go:build !unix

package conn

import "io"

// idleReads: here a reader can only wait for input inside a blocking read,
// holding its buffer, so reads are not charged to a shared read budget (a
// quiet connection would hold its share for as long as it is quiet and
// starve the others). Each connection keeps its own read-ahead bound.
const idleReads = false

func (c *Conn) source() io.Reader { return c.nc }
