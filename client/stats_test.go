package client_test

import (
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/logrec"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/message"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// After a known exchange with a server written by hand, every counter is
// exact: messages and bytes each way (as on the wire, delimiters
// included), a send refused by a full queue, a frame that failed to
// decode, and a reconnect. What the dropped connection counted stays in
// the totals.
func TestStatsCountAKnownExchange(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	srv := listenRaw(t, path)
	opts := fastOptions(path)
	opts.MaxQueueBytes = 16 << 10
	cli := newClient(t, opts)
	log := eventlog.Record(cli, clientEvents...)
	assert.Equal(t, client.Stats{}, cli.Stats())
	require.NoError(t, cli.Connect())
	nc := srv.accept()
	log.Wait(t, "connect")
	want := client.Stats{Connects: 1, Connected: true}
	assert.Equal(t, want, cli.Stats())

	// The client sends 4 messages of different sizes; the server reads them.
	fr := newFrameReader(nc)
	for i := range 4 {
		require.NoError(t, cli.Send("t", strings.Repeat("a", 10*i)))
		got, err := readN(nc, fr, 1, guard)
		require.NoError(t, err)
		want.MessagesOut++
		want.BytesOut += uint64(len(frame(got[0].Topic, strings.Repeat("a", 10*i))))
	}
	// The server sends 3 messages and one frame that is not JSON.
	for i := range 3 {
		f := frame("r", i)
		_, err := nc.Write(f)
		require.NoError(t, err)
		want.MessagesIn++
		want.BytesIn += uint64(len(f))
	}
	log.WaitCount(t, "message", 3)
	bad := rawFrame("not json")
	_, err := nc.Write(bad)
	require.NoError(t, err)
	log.Wait(t, "error")
	want.BytesIn += uint64(len(bad))
	want.DecodeErrors = 1

	// The server stops reading: the queue fills and refuses one send.
	chunk := strings.Repeat("q", 1000)
	sent := 0
	for ; sent < 10_000; sent++ {
		if err := cli.Send("q", chunk); err != nil {
			require.ErrorIs(t, err, message.ErrQueueFull)
			break
		}
	}
	log.Wait(t, "error")
	want.MessagesOut += uint64(sent)
	want.BytesOut += uint64(sent * len(frame("q", chunk)))
	want.QueueFull = 1
	assert.Equal(t, want, cli.Stats())

	// The server drops the connection; the client reconnects.
	require.NoError(t, nc.Close())
	log.Wait(t, "disconnect")
	want.Connected = false
	assert.Equal(t, want, cli.Stats())
	srv.accept()
	log.Wait(t, "reconnect")
	want.Connects, want.Reconnects, want.Connected = 2, 1, true
	assert.Equal(t, want, cli.Stats())
}

// Stats may be called from any goroutine while traffic flows (the race
// detector checks it), its counters never go back, and once the traffic
// is over they add up exactly.
func TestStatsWhileTrafficFlows(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	srv := startServer(t, path)
	const each = 3000
	got := make(chan struct{}, each)
	srv.On("message", func() { got <- struct{}{} })
	srv.On("connection", func(id string) {
		go func() {
			for i := range each {
				_ = srv.Send("r", i, id)
			}
		}()
	})
	cli := newClient(t, fastOptions(path))
	log := eventlog.Record(cli, "message", "connect")
	require.NoError(t, cli.Connect())
	log.Wait(t, "connect")

	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			var last client.Stats
			for {
				s := cli.Stats()
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
	for i := range each {
		require.NoError(t, cli.Send("t", i))
	}
	for range each {
		select {
		case <-got:
		case <-time.After(guard):
			t.Fatal("the server did not receive every message")
		}
	}
	log.WaitCount(t, "message", each)
	close(stop)
	readers.Wait()
	s := cli.Stats()
	assert.Equal(t, uint64(each), s.MessagesIn)
	assert.Equal(t, uint64(each), s.MessagesOut)
	assert.Equal(t, srv.Stats().BytesOut, s.BytesIn, "what one end sent, the other received")
	assert.Equal(t, srv.Stats().BytesIn, s.BytesOut)
}

// A zero Client, or a nil one, has Stats, all zero.
func TestStatsOfAZeroClient(t *testing.T) {
	var zero client.Client
	assert.Equal(t, client.Stats{}, zero.Stats())
	var none *client.Client
	assert.Equal(t, client.Stats{}, none.Stats())
}

// With a Logger that records debug records, the connection's start and
// end, and a server refused by AllowPeer, are logged at debug level with
// the socket file; at the default Info level nothing is.
func TestStatsDebugRecords(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	srv := listenRaw(t, path)
	rec, logger := logrec.New(slog.LevelDebug)
	opts := fastOptions(path)
	opts.Logger = logger
	cli := newClient(t, opts)
	log := eventlog.Record(cli, clientEvents...)
	require.NoError(t, cli.Connect())
	nc := srv.accept()
	log.Wait(t, "connect")
	opened := rec.WithMessage("socketipc: connection opened")
	require.Len(t, opened, 1)
	assert.Equal(t, slog.LevelDebug, opened[0].Level)
	assert.Equal(t, path, opened[0].Attrs["socket"])
	_, err := nc.Write(frame("r", 1))
	require.NoError(t, err)
	log.Wait(t, "message")
	require.NoError(t, nc.Close())
	log.Wait(t, "disconnect")
	closed := rec.WithMessage("socketipc: connection closed")
	require.Len(t, closed, 1)
	assert.Equal(t, slog.LevelDebug, closed[0].Level)
	assert.Equal(t, path, closed[0].Attrs["socket"])
	assert.Equal(t, uint64(1), closed[0].Attrs["messagesIn"])
	srv.accept()
	log.Wait(t, "reconnect")

	// A server refused by AllowPeer.
	arec, alogger := logrec.New(slog.LevelDebug)
	apath := testsock.Path(t)
	startServer(t, apath)
	aopts := fastOptions(apath)
	aopts.Logger = alogger
	aopts.AllowPeer = func(client.PeerCred) error { return errors.New("not this one") }
	refusing := newClient(t, aopts)
	alog := eventlog.Record(refusing, "connectError")
	require.NoError(t, refusing.Connect())
	require.ErrorIs(t, alog.Wait(t, "connectError").Err(), client.ErrPeerRefused)
	refused := arec.WithMessage("socketipc: connection refused")
	require.NotEmpty(t, refused)
	assert.Equal(t, slog.LevelDebug, refused[0].Level)
	assert.ErrorIs(t, refused[0].Attrs["error"].(error), client.ErrPeerRefused)
	require.NoError(t, refusing.Close())

	// At Info level, none of them.
	irec, ilogger := logrec.New(slog.LevelInfo)
	ipath := testsock.Path(t)
	isrv := startServer(t, ipath)
	iopts := fastOptions(ipath)
	iopts.Logger = ilogger
	quiet := newClient(t, iopts)
	qlog := eventlog.Record(quiet, "connect")
	require.NoError(t, quiet.Connect())
	qlog.Wait(t, "connect")
	require.NoError(t, quiet.Close())
	require.NoError(t, isrv.Close())
	assert.Empty(t, irec.Records())
}
