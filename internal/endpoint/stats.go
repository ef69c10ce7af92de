package endpoint

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/socketipc/socketipc/internal/conn"
)

// stats are an endpoint's counters beyond its connections' traffic, and
// the logger of its debug records.
type stats struct {
	conns      conn.Tally
	refused    atomic.Uint64
	reconnects atomic.Uint64
	log        *slog.Logger // nil: slog.Default()
}

// Snapshot is what Stats returns: the server and client packages copy it
// into their own Stats types.
type Snapshot struct {
	conn.Traffic
	Opened           uint64 // connections opened (accepted, or made by a client)
	Open             int    // connections live now
	Refused          uint64 // connections refused (AllowPeer, MaxConnections)
	Reconnects       uint64
	RequestsInFlight int
}

// Stats adds up the counters; a nil Endpoint (a zero Server or Client) has
// none.
func (e *Endpoint) Stats() Snapshot {
	if e == nil {
		return Snapshot{}
	}
	tr, live, opened := e.stats.conns.Snapshot()
	return Snapshot{
		Traffic:          tr,
		Opened:           opened,
		Open:             live,
		Refused:          e.stats.refused.Load(),
		Reconnects:       e.stats.reconnects.Load(),
		RequestsInFlight: e.PendingRequests(),
	}
}

// Opened counts c as the owner's and logs it: the owner calls it once c is
// its own, before announcing it (so a listener of that event sees it in
// Stats) and before Run. ConnConfig's Ended hook takes it out.
func (e *Endpoint) Opened(c *conn.Conn) {
	e.stats.conns.Open(c)
	if l := e.debugLogger(); l != nil {
		l.LogAttrs(context.Background(), slog.LevelDebug, "socketipc: connection opened", connAttrs(c)...)
	}
}

// Refused counts a connection refused by AllowPeer or MaxConnections (a
// server) and logs it.
func (e *Endpoint) Refused(err error) {
	e.stats.refused.Add(1)
	e.LogRefused(err)
}

// LogRefused logs a connection refused by AllowPeer (a client refusing a
// server, which counts as a failed attempt, not as a refusal).
func (e *Endpoint) LogRefused(err error) {
	if l := e.debugLogger(); l != nil {
		l.LogAttrs(context.Background(), slog.LevelDebug, "socketipc: connection refused", slog.Any("error", err))
	}
}

// Reconnected counts a client's connection that follows a dropped one.
func (e *Endpoint) Reconnected() { e.stats.reconnects.Add(1) }

// ended wraps a connection's Ended hook: the connection's traffic, final
// now, moves to the ended total before the owner hears of it.
func (e *Endpoint) ended(next func(*conn.Conn)) func(*conn.Conn) {
	return func(c *conn.Conn) {
		tr, ok := e.stats.conns.Close(c)
		if l := e.debugLogger(); ok && l != nil {
			_, unsent, reason := c.Unsent()
			attrs := append(connAttrs(c),
				slog.Uint64("messagesIn", tr.MessagesIn), slog.Uint64("messagesOut", tr.MessagesOut),
				slog.Uint64("bytesIn", tr.BytesIn), slog.Uint64("bytesOut", tr.BytesOut))
			if unsent > 0 {
				attrs = append(attrs, slog.Int("unsentBytes", unsent), slog.Any("reason", reason))
			}
			l.LogAttrs(context.Background(), slog.LevelDebug, "socketipc: connection closed", attrs...)
		}
		if next != nil {
			next(c)
		}
	}
}

// debugLogger is the logger when it records debug records, else nil, so
// the records cost nothing when they would be dropped.
func (e *Endpoint) debugLogger() *slog.Logger {
	l := e.stats.log
	if l == nil {
		l = slog.Default()
	}
	if !l.Enabled(context.Background(), slog.LevelDebug) {
		return nil
	}
	return l
}

// connAttrs name a connection in the log: its socket file, the client id
// (on a server) and the peer's pid.
func connAttrs(c *conn.Conn) []slog.Attr {
	attrs := make([]slog.Attr, 0, 8)
	if id := c.ID(); id != "" {
		attrs = append(attrs, slog.String("socket", c.LocalAddr().String()), slog.String("clientId", id))
	} else {
		attrs = append(attrs, slog.String("socket", c.RemoteAddr().String()))
	}
	if cred, err := c.PeerCred(); err == nil {
		attrs = append(attrs, slog.Int("pid", int(cred.PID)), slog.Uint64("uid", uint64(cred.UID)))
	}
	return attrs
}
