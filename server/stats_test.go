package server_test

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/logrec"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// After a known exchange, every counter is exact: messages and bytes each
// way (frames as they are on the wire, delimiters included), a send
// refused by a full queue, a frame that failed to decode, and connections
// accepted and open across a connect and a disconnect. The counts of a
// connection that ended stay in the totals.
func TestStatsCountAKnownExchange(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{MaxQueueBytes: smallQueue}, "message.t")
	assert.Equal(t, server.Stats{}, srv.Stats())

	a := dialRaw(t, srv, log)
	assert.Equal(t, server.Stats{ConnectionsAccepted: 1, ConnectionsOpen: 1}, srv.Stats())

	// a sends 5 messages of different sizes and one frame that is not JSON.
	var want server.Stats
	for i := range 5 {
		f := frameJSON("t", fmt.Sprintf("%q", strings.Repeat("a", 10*i)))
		a.write(t, f)
		want.MessagesIn++
		want.BytesIn += uint64(len(f))
	}
	log.WaitCount(t, "message.t", 5)
	bad := []byte("not json\x00\x00")
	a.write(t, bad)
	waitError(t, log)
	want.BytesIn += uint64(len(bad))
	want.DecodeErrors = 1

	// The server sends a 3 messages; they arrive as counted.
	for i := range 3 {
		require.NoError(t, srv.Send("r", i, a.ID))
		f := a.frame(t)
		want.MessagesOut++
		want.BytesOut += uint64(len(f) + 2)
	}

	// b never reads: its queue fills and refuses one send.
	b := dialRaw(t, srv, log)
	sent, err := fillQueue(t, srv, b.ID)
	require.ErrorIs(t, err, message.ErrQueueFull)
	waitError(t, log)
	want.MessagesOut += uint64(sent)
	want.BytesOut += uint64(sent * chunkFrameLen)
	want.QueueFull = 1
	want.ConnectionsAccepted, want.ConnectionsOpen = 2, 2
	assert.Equal(t, want, srv.Stats())

	// a hangs up: one connection is left open, a's counts stay.
	require.NoError(t, a.Close())
	log.Wait(t, "connectionClose")
	want.ConnectionsOpen = 1
	assert.Equal(t, want, srv.Stats())
}

// Connections refused by AllowPeer or MaxConnections are counted apart
// from those accepted.
func TestStatsCountRefusedConnections(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{MaxConnections: 1})
	dialRaw(t, srv, log)
	nc, err := net.Dial("unix", srv.SocketFile())
	require.NoError(t, err)
	defer nc.Close()
	require.ErrorIs(t, waitError(t, log), server.ErrTooManyConnections)
	assert.Equal(t, server.Stats{ConnectionsAccepted: 1, ConnectionsOpen: 1, ConnectionsRefused: 1}, srv.Stats())

	refusing, rlog := startServer(t, server.Options{AllowPeer: func(server.PeerCred) error { return errors.New("no") }})
	nc2, err := net.Dial("unix", refusing.SocketFile())
	require.NoError(t, err)
	defer nc2.Close()
	require.ErrorIs(t, waitError(t, rlog), server.ErrPeerRefused)
	assert.Equal(t, server.Stats{ConnectionsRefused: 1}, refusing.Stats())
}

// Stats may be called from any goroutine, listeners included, while
// traffic flows (the race detector checks it), and its counters never go
// back; once the traffic is over they add up exactly.
func TestStatsWhileTrafficFlows(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{}, "message.t")
	const clients, each = 3, 2000
	var inListener server.Stats // set on the loop, read there
	srv.On("message.t", func() { inListener = srv.Stats() })
	var peers []*rawPeer
	for range clients {
		peers = append(peers, dialRaw(t, srv, log))
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			var last server.Stats
			for {
				s := srv.Stats()
				assert.GreaterOrEqual(t, s.MessagesIn, last.MessagesIn)
				assert.GreaterOrEqual(t, s.MessagesOut, last.MessagesOut)
				last = s
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
	}
	f := frameJSON("t", `"x"`)
	var writers sync.WaitGroup
	for _, p := range peers {
		writers.Add(2)
		go func() {
			defer writers.Done()
			for range each {
				p.write(t, f)
			}
		}()
		go func() {
			defer writers.Done()
			for i := range each {
				assert.NoError(t, srv.Send("r", i, p.ID))
			}
		}()
	}
	writers.Wait()
	log.WaitCount(t, "message.t", clients*each)
	close(stop)
	readers.Wait()
	s := srv.Stats()
	assert.Equal(t, uint64(clients*each), s.MessagesIn)
	assert.Equal(t, uint64(clients*each*len(f)), s.BytesIn)
	assert.Equal(t, uint64(clients*each), s.MessagesOut)
	seen := make(chan uint64)
	srv.Do(func() { seen <- inListener.MessagesIn })
	assert.Equal(t, uint64(clients*each), <-seen, "the last listener saw its own message counted")
}

// A zero Server, or a nil one, has Stats, all zero.
func TestStatsOfAZeroServer(t *testing.T) {
	var zero server.Server
	assert.Equal(t, server.Stats{}, zero.Stats())
	var none *server.Server
	assert.Equal(t, server.Stats{}, none.Stats())
}

// With a Logger that records debug records, a connection's start and end
// and the connections refused (AllowPeer, MaxConnections) are logged at
// debug level, with the client's id; at the default Info level nothing is.
func TestStatsDebugRecords(t *testing.T) {
	leakcheck.Check(t)
	rec, logger := logrec.New(slog.LevelDebug)
	srv, log := startServer(t, server.Options{Logger: logger, MaxConnections: 1}, "message.t")
	p := dialRaw(t, srv, log)
	opened := rec.WithMessage("socketipc: connection opened")
	require.Len(t, opened, 1)
	assert.Equal(t, slog.LevelDebug, opened[0].Level)
	assert.Equal(t, p.ID, opened[0].Attrs["clientId"])
	assert.Equal(t, srv.SocketFile(), opened[0].Attrs["socket"])

	nc, err := net.Dial("unix", srv.SocketFile())
	require.NoError(t, err)
	defer nc.Close()
	require.ErrorIs(t, waitError(t, log), server.ErrTooManyConnections)
	refused := rec.WithMessage("socketipc: connection refused")
	require.Len(t, refused, 1)
	assert.Equal(t, slog.LevelDebug, refused[0].Level)
	assert.ErrorIs(t, refused[0].Attrs["error"].(error), server.ErrTooManyConnections)

	p.write(t, frameJSON("t", "1"))
	log.Wait(t, "message.t")
	require.NoError(t, p.Close())
	log.Wait(t, "connectionClose")
	closed := rec.WithMessage("socketipc: connection closed")
	require.Len(t, closed, 1)
	assert.Equal(t, slog.LevelDebug, closed[0].Level)
	assert.Equal(t, p.ID, closed[0].Attrs["clientId"])
	assert.Equal(t, uint64(1), closed[0].Attrs["messagesIn"])

	// AllowPeer's refusals too.
	arec, alogger := logrec.New(slog.LevelDebug)
	refusing, rlog := startServer(t, server.Options{Logger: alogger, AllowPeer: func(server.PeerCred) error { return errors.New("no") }})
	nc2, err := net.Dial("unix", refusing.SocketFile())
	require.NoError(t, err)
	defer nc2.Close()
	require.ErrorIs(t, waitError(t, rlog), server.ErrPeerRefused)
	refused = arec.WithMessage("socketipc: connection refused")
	require.Len(t, refused, 1)
	assert.ErrorIs(t, refused[0].Attrs["error"].(error), server.ErrPeerRefused)

	// At Info level, none of them.
	irec, ilogger := logrec.New(slog.LevelInfo)
	quiet, qlog := startServer(t, server.Options{Logger: ilogger})
	q := dialRaw(t, quiet, qlog)
	require.NoError(t, q.Close())
	qlog.Wait(t, "connectionClose")
	assert.Empty(t, irec.Records())
}
