package server

import (
	"github.com/socketipc/socketipc/internal/conn"
	"github.com/socketipc/socketipc/internal/endpoint"
)

// Conn is one client's connection, as the "connection" event and
// Server.Conn give it: its id, its peer's credentials, its send queue, and
// Done to learn when it ends. The connection's reader and writer belong to
// the Server; nothing here can start, feed or re-run them.
type Conn struct {
	c *conn.Conn
	e *endpoint.Endpoint
}

// PeerCred identifies the process at the other end of a connection: pid,
// effective uid and gid, as the kernel recorded them when the client
// connected (Linux and OpenBSD SO_PEERCRED; darwin and FreeBSD
// LOCAL_PEERCRED, with LOCAL_PEERPID for darwin's pid; NetBSD
// LOCAL_PEEREID). Other systems, Windows among them, have none: reading
// them fails with errors.ErrUnsupported.
type PeerCred struct {
	PID int32  // process id (0 on FreeBSD before 13)
	UID uint32 // effective user id
	GID uint32 // effective group id
}

// ID is the client's id, as in the server's events and Send.
func (c *Conn) ID() string { return c.c.ID() }

// PeerCred returns the credentials of the client's process, as the kernel
// saw them when it connected (see PeerCred for each system).
func (c *Conn) PeerCred() (PeerCred, error) {
	cred, err := c.c.PeerCred()
	return PeerCred(cred), err
}

// Done is closed when the connection has ended: both directions are over
// and its goroutines are gone. The connectionClose event follows.
func (c *Conn) Done() <-chan struct{} { return c.c.Done() }

// QueuedBytes is how many bytes of accepted sends wait to be written to
// this client (queued, or being written).
func (c *Conn) QueuedBytes() int { return c.c.QueuedBytes() }

// Close ends this connection gracefully, as the server's Close does each:
// no more sends are taken, what was queued is written (within
// Options.FlushTimeout), then the socket is closed. It waits for the
// connection to end and returns an error (also emitted) saying how many
// bytes could not be written; called from a listener it returns at once
// instead, and connectionClose says when the connection has ended. Close
// may be called more than once.
func (c *Conn) Close() error { return c.e.CloseConn(c.c) }
