package client

import (
	"github.com/socketipc/socketipc/internal/conn"
	"github.com/socketipc/socketipc/internal/endpoint"
)

// PeerCred identifies the server's process: pid, effective uid and gid, as
// the kernel recorded them when the server accepted the connection (Linux
// and OpenBSD SO_PEERCRED; darwin and FreeBSD LOCAL_PEERCRED, with
// LOCAL_PEERPID for darwin's pid; NetBSD LOCAL_PEEREID). Other systems,
// Windows among them, have none: reading them fails with
// errors.ErrUnsupported.
//
// The fields: the process id (0 on FreeBSD before 13), and its effective
// user and group ids.
type PeerCred struct {
	PID      int32
	UID, GID uint32
}

// Conn is the client's connection to the server, as the "connect" and
// "reconnect" events and Client.Conn give it: the server's credentials,
// the send queue, and Done to learn when it ends. Each reconnect makes a
// new Conn. The connection's reader and writer belong to the Client;
// nothing here can start, feed or re-run them.
type Conn struct {
	c *conn.Conn
	e *endpoint.Endpoint
}

// Close ends this connection gracefully: no more sends are taken, what was
// queued is written (within Options.FlushTimeout), then the socket is
// closed, and the client reconnects as after any drop (Client.Close ends
// the client instead). It waits for the connection to end and returns an
// error (also emitted) saying how many bytes could not be written; called
// from a listener it returns at once. Close may be called more than once.
func (c *Conn) Close() error { return c.e.CloseConn(c.c) }

// PeerCred returns the credentials of the server's process (see PeerCred
// for each system).
func (c *Conn) PeerCred() (PeerCred, error) {
	cred, err := c.c.PeerCred()
	return PeerCred(cred), err
}

// QueuedBytes is how many bytes of accepted sends wait to be written to the
// server (queued, or being written).
func (c *Conn) QueuedBytes() int { return c.c.QueuedBytes() }

// Done is closed when the connection has ended (both directions over, its
// goroutines gone); "disconnect" follows unless the client is closing.
func (c *Conn) Done() <-chan struct{} { return c.c.Done() }
