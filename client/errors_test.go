package client_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/socketipc/socketipc/backoff"
	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/message"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewInvalidSocketFile(t *testing.T) {
	leakcheck.Check(t)
	for name, path := range map[string]string{
		"empty":      "",
		"all digits": "8080",
		"too long":   "/tmp/" + strings.Repeat("a", 103), // 108 bytes
	} {
		t.Run(name, func(t *testing.T) {
			cli, err := client.New(client.Options{SocketFile: path})
			require.ErrorIs(t, err, client.ErrInvalidSocketFile)
			require.Nil(t, cli)
		})
	}
	// The longest path the kernel takes is accepted.
	cli, err := client.New(client.Options{SocketFile: "/tmp/" + strings.Repeat("a", 102)})
	require.NoError(t, err)
	require.NoError(t, cli.Close())
}

// sendError checks err is a *message.SendError for topic and msg matching
// target, and that the same error was emitted on "error".
func requireSendError(t *testing.T, log *eventlog.Log, err error, target error, topic string, msg any) *message.SendError {
	t.Helper()
	require.ErrorIs(t, err, target)
	var se *message.SendError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, topic, se.Topic)
	assert.Equal(t, msg, se.Message)
	assert.Empty(t, se.ClientID)
	emitted := log.Wait(t, "error").Err()
	require.Equal(t, err, emitted, "the returned error is also emitted")
	return se
}

func TestConnectTwice(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	startServer(t, path)
	cli := newClient(t, fastOptions(path))
	log := eventlog.Record(cli, clientEvents...)
	require.NoError(t, cli.Connect())
	log.Wait(t, "connect")

	err := cli.Connect()
	require.ErrorIs(t, err, client.ErrConnectCalled)
	require.Equal(t, err, log.Wait(t, "error").Err(), "returned and emitted")
	require.Equal(t, "socketipc: connect: Connect already called", err.Error())

	require.NoError(t, cli.Close())
	err = cli.Connect()
	require.ErrorIs(t, err, client.ErrClientClosed)
	require.Equal(t, err, log.Wait(t, "error").Err(), "returned and emitted")
	require.Equal(t, "socketipc: connect: client closed", err.Error())
	require.Equal(t, []string{"connect", "error", "closed", "close", "error"}, log.Names())

	err = cli.Send("hello", 1)
	require.ErrorIs(t, err, message.ErrSendAfterClose)
	require.Equal(t, `socketipc: send "hello": send after close`, err.Error())
}

// Connect is once per Client even when the first call never connected.
func TestConnectTwiceWhileRetrying(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	cli := newClient(t, fastOptions(path))
	log := eventlog.Record(cli, "connectError", "error")
	require.NoError(t, cli.Connect())
	log.Wait(t, "connectError")
	require.ErrorIs(t, cli.Connect(), client.ErrConnectCalled)
	require.ErrorIs(t, log.Wait(t, "error").Err(), client.ErrConnectCalled)
}

// Before Connect, and after it while no server answers, Send fails with
// ErrNoServer.
func TestSendBeforeConnect(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	cli := newClient(t, fastOptions(path))
	log := eventlog.Record(cli, clientEvents...)
	requireSendError(t, log, cli.Send("early", "bird"), message.ErrNoServer, "early", "bird")

	require.NoError(t, cli.Connect())
	log.Wait(t, "connectError")
	requireSendError(t, log, cli.Send("still", map[string]any{"n": 1}), message.ErrNoServer, "still", map[string]any{"n": 1})

	startServer(t, path)
	log.Wait(t, "connect")
	require.NoError(t, cli.Send("now", 1))
}

// Between disconnect and the next connect, Send fails with ErrNoServer;
// after reconnect it works again.
func TestSendWhileDisconnected(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	srv := startServer(t, path)
	slog := eventlog.Record(srv, "connection", "message.after")
	gate := newGate(fast) // holds the client after the drop until opened
	cli := newClient(t, client.Options{SocketFile: path, RetryDelay: backoff.Constant(fast), ReconnectDelay: gate})
	t.Cleanup(gate.open)
	log := eventlog.Record(cli, clientEvents...)
	fromListener := make(chan error, 1)
	cli.On("disconnect", func() { fromListener <- cli.Send("in", "listener") })
	require.NoError(t, cli.Connect())
	log.Wait(t, "connect")
	srv.Conn(slog.Wait(t, "connection").Arg(0).(string)).Close()
	log.Wait(t, "disconnect")

	requireSendError(t, log, <-fromListener, message.ErrNoServer, "in", "listener")
	requireSendError(t, log, cli.Send("gap", 7), message.ErrNoServer, "gap", 7)
	require.Nil(t, cli.Conn())

	gate.open()
	log.Wait(t, "reconnect")
	require.NoError(t, cli.Send("after", "reconnect"))
	require.Equal(t, "reconnect", slog.Wait(t, "message.after").Arg(0))
	require.NoError(t, cli.Close())
	require.Equal(t, []string{"connect", "disconnect", "error", "error", "connect", "reconnect", "closed", "close"}, log.Names())
}

func TestSendAfterClose(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	startServer(t, path)
	cli := newClient(t, fastOptions(path))
	log := eventlog.Record(cli, clientEvents...)
	require.NoError(t, cli.Connect())
	log.Wait(t, "connect")
	require.NoError(t, cli.Close())
	requireSendError(t, log, cli.Send("late", []int{1, 2}), message.ErrSendAfterClose, "late", []int{1, 2})
	require.NotErrorIs(t, cli.Send("late", 1), message.ErrNoServer)
}

// A message that can't be encoded: a *SendError whose chain holds a
// *message.EncodeError; nothing is written, and the connection goes on.
func TestSendUnencodable(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	srv := startServer(t, path)
	slog := eventlog.Record(srv, "message", "error")
	cli := newClient(t, fastOptions(path))
	log := eventlog.Record(cli, clientEvents...)
	require.NoError(t, cli.Connect())
	log.Wait(t, "connect")

	bad := map[string]any{"ch": make(chan int)}
	err := cli.Send("bad", bad)
	require.Error(t, err)
	var se *message.SendError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "bad", se.Topic)
	var ee *message.EncodeError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, "bad", ee.Topic)
	require.Equal(t, err, log.Wait(t, "error").Err())

	require.NoError(t, cli.Send("good", 1))
	m := slog.Wait(t, "message")
	require.Equal(t, []any{1.0, "good"}, m.Args[:2])
	require.NoError(t, cli.Close())
	require.Equal(t, []string{"message"}, slog.Names(), "the bad message left nothing on the wire")
	require.Equal(t, []string{"connect", "error", "closed", "close"}, log.Names())
}

// Frames that are not JSON, not objects, or have no string topic are each a
// *message.DecodeError with the raw bytes; the connection stays usable.
func TestDecodeErrorFromRawServer(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	raw := listenRaw(t, path)
	cli := newClient(t, fastOptions(path))
	log := eventlog.Record(cli, append(clientEvents, "message.ok")...)
	require.NoError(t, cli.Connect())
	c := raw.accept()
	log.Wait(t, "connect")

	junk := []string{`not json`, `[1,2]`, `{"message":1}`, `{"topic":5,"message":1}`, `{"topic":"cut`}
	var wire []byte
	for _, j := range junk {
		wire = append(wire, rawFrame(j)...)
	}
	wire = append(wire, frame("ok", 1)...)
	// In two writes, splitting a junk frame, to cross a read boundary.
	_, err := c.Write(wire[:5])
	require.NoError(t, err)
	_, err = c.Write(wire[5:])
	require.NoError(t, err)

	require.Equal(t, 1.0, log.Wait(t, "message.ok").Arg(0))
	for _, j := range junk {
		err := log.Wait(t, "error").Err()
		var de *message.DecodeError
		require.ErrorAs(t, err, &de, "%q", j)
		assert.Equal(t, j, string(de.Raw))
		assert.Empty(t, de.ClientID)
	}

	// Still connected, both ways.
	require.NoError(t, cli.Send("ack", "fine"))
	got, err := readN(c, newFrameReader(c), 1, guard)
	require.NoError(t, err)
	require.Equal(t, gotFrame{Topic: "ack", Payload: []byte(`"fine"`)}, got[0])
	_, err = c.Write(frame("ok", 2))
	require.NoError(t, err)
	require.Equal(t, 2.0, log.Wait(t, "message.ok").Arg(0))

	go func() { readAll(c, guard); c.Close() }()
	require.NoError(t, cli.Close())
	want := []string{"connect", "error", "error", "error", "error", "error", "message", "message.ok", "message", "message.ok", "closed", "close"}
	require.Equal(t, want, log.Names())
}

// An incoming frame over MaxFrameSize is ErrFrameTooLarge, drops the
// connection, and the client reconnects; a frame of exactly the limit passes.
func TestFrameTooLarge(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	raw := listenRaw(t, path)
	const limit = 64
	opts := fastOptions(path)
	opts.MaxFrameSize = limit
	cli := newClient(t, opts)
	log := eventlog.Record(cli, append(clientEvents, "message.t", "message.big")...)
	require.NoError(t, cli.Connect())
	c1 := raw.accept()
	log.Wait(t, "connect")

	exact := fmt.Sprintf(`{"topic":"t","message":"%s"}`, strings.Repeat("x", limit-26))
	require.Len(t, exact, limit)
	_, err := c1.Write(rawFrame(exact))
	require.NoError(t, err)
	require.Equal(t, strings.Repeat("x", limit-26), log.Wait(t, "message.t").Arg(0))

	big := frame("big", strings.Repeat("y", 200))
	_, err = c1.Write(big)
	require.NoError(t, err)
	err = log.Wait(t, "error").Err()
	require.ErrorIs(t, err, message.ErrFrameTooLarge)
	var de *message.DecodeError
	require.ErrorAs(t, err, &de)
	require.NotEmpty(t, de.Raw)
	require.True(t, strings.HasPrefix(string(big), string(de.Raw)), "Raw is the start of the frame: %q", de.Raw)
	log.Wait(t, "disconnect")

	// The client dropped that connection at once.
	require.NoError(t, c1.SetReadDeadline(time.Now().Add(guard)))
	_, err = c1.Read(make([]byte, 16))
	require.Error(t, err)
	require.False(t, errors.Is(err, os.ErrDeadlineExceeded), "the client did not close the connection")

	c2 := raw.accept()
	log.Wait(t, "reconnect")
	_, err = c2.Write(frame("t", "small"))
	require.NoError(t, err)
	require.Equal(t, "small", log.Wait(t, "message.t").Arg(0))
	go func() { readAll(c2, guard); c2.Close() }()
	require.NoError(t, cli.Close())
	require.Zero(t, log.Count("message.big"))
	require.Equal(t,
		[]string{"connect", "message", "message.t", "error", "disconnect", "connect", "reconnect", "message", "message.t", "closed", "close"},
		log.Names())
}

// A peer that never reads: the queue fills, Send fails with ErrQueueFull
// (returned and emitted) without blocking; once the peer reads everything,
// drain is emitted, every accepted message arrives in order, and Send works.
func TestQueueFullThenDrain(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	raw := listenRaw(t, path)
	const maxQueue = 4096
	opts := fastOptions(path)
	opts.MaxQueueBytes = maxQueue
	cli := newClient(t, opts)
	log := eventlog.Record(cli, clientEvents...)
	drained := make(chan struct{}, 1000)
	cli.On("drain", func() { drained <- struct{}{} })
	require.NoError(t, cli.Connect())
	c := raw.accept()
	log.Wait(t, "connect")

	// Send until the queue stays full: a sender can outrun the writer, so a
	// refusal is followed by a drain while the kernel still takes bytes;
	// once the socket buffer is full (the peer never reads), no drain comes.
	payload := strings.Repeat("p", 1000)
	sent, refused, accepted := 0, 0, 0
	var lastErr error
	within(t, 3*guard, "sending until the queue stays full", func() {
		for accepted < 16<<20 {
			msg := map[string]any{"i": sent, "p": payload}
			err := cli.Send("seq", msg)
			if err == nil {
				sent++
				accepted += len(payload)
				continue
			}
			refused++
			lastErr = err
			requireSendError(t, log, err, message.ErrQueueFull, "seq", msg)
			select {
			case <-drained:
			case <-time.After(250 * time.Millisecond):
				return // the writer is stuck: the peer does not read
			}
		}
	})
	t.Logf("%d messages (%d KiB) accepted, %d refusals", sent, accepted>>10, refused)
	require.Error(t, lastErr, "the queue never stayed full while the peer did not read")
	conn := cli.Conn()
	require.NotNil(t, conn)
	require.Positive(t, conn.QueuedBytes())
	require.LessOrEqual(t, conn.QueuedBytes(), maxQueue)

	fr := newFrameReader(c)
	got, err := readN(c, fr, sent, guard)
	require.NoError(t, err)
	require.Len(t, got, sent)
	for i, f := range got {
		require.Equal(t, "seq", f.Topic)
		require.True(t, strings.HasPrefix(string(f.Payload), fmt.Sprintf(`{"i":%d,`, i)), "message %d out of order: %.20s", i, f.Payload)
	}
	select {
	case <-drained:
	case <-time.After(guard):
		t.Fatal("no drain after the peer read everything")
	}
	require.Zero(t, conn.QueuedBytes())

	require.NoError(t, cli.Send("more", 1))
	got, err = readN(c, fr, 1, guard)
	require.NoError(t, err)
	require.Equal(t, gotFrame{Topic: "more", Payload: []byte("1")}, got[0])
	go func() { readAll(c, guard); c.Close() }()
	require.NoError(t, cli.Close())
	require.Equal(t, refused, log.Count("drain"), "one drain per refusal")
	require.Equal(t, refused, log.Count("error"))
	for _, ev := range log.All() {
		if ev.Name == "drain" {
			require.Empty(t, ev.Args, "drain has no arguments")
		}
	}
}
