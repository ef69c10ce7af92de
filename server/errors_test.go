package server_test

import (
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/socketipc/socketipc/internal/socketfile"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewRejectsBadSocketFile(t *testing.T) {
	leakcheck.Check(t)
	dir := filepath.Dir(testsock.Path(t))
	at := func(n int) string { // a path of exactly n bytes in dir
		return filepath.Join(dir, strings.Repeat("x", n-len(dir)-1))
	}
	for _, bad := range []string{"", "1234", "0", at(socketfile.MaxPathLen + 1), at(200)} {
		srv, err := server.New(server.Options{SocketFile: bad})
		assert.Nil(t, srv, "%q", bad)
		require.ErrorIs(t, err, server.ErrInvalidSocketFile, "%q", bad)
	}
	for _, good := range []string{at(socketfile.MaxPathLen), "12a", "./1234", "/tmp/1234"} {
		_, err := server.New(server.Options{SocketFile: good})
		require.NoError(t, err, "%q", good)
	}
}

// A path of MaxPathLen bytes (107 on Linux, 103 on darwin and the BSDs), the
// longest the kernel takes, really works.
func TestListenLongestPath(t *testing.T) {
	leakcheck.Check(t)
	dir := filepath.Dir(testsock.Path(t))
	path := filepath.Join(dir, strings.Repeat("x", socketfile.MaxPathLen-len(dir)-1))
	require.Len(t, path, socketfile.MaxPathLen)
	srv, log := startServer(t, server.Options{SocketFile: path})
	p := dialRaw(t, srv, log)
	require.NoError(t, srv.Send("t", 1, p.ID))
	assert.Equal(t, `{"topic":"t","message":1}`, string(p.frame(t)))
}

func TestListenTwice(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{})
	err := srv.Listen()
	require.ErrorIs(t, err, server.ErrListenCalled)
	requireEmitted(t, log, err)
	assert.Equal(t, "socketipc: listen: Listen already called", err.Error())
	// The first Listen still serves.
	p := dialRaw(t, srv, log)
	require.NoError(t, srv.Send("t", 1, p.ID))
	p.frame(t)
}

func TestListenAfterFailedListen(t *testing.T) {
	leakcheck.Check(t)
	path := filepath.Join(filepath.Dir(testsock.Path(t)), "missing", "s.sock")
	srv, log := newServer(t, server.Options{SocketFile: path})
	err := srv.Listen()
	require.Error(t, err)
	require.ErrorIs(t, err, os.ErrNotExist)
	requireEmitted(t, log, err)
	err = srv.Listen()
	require.ErrorIs(t, err, server.ErrListenCalled)
	requireEmitted(t, log, err)
	assert.Zero(t, log.Count("listening"))
}

func TestListenAfterClose(t *testing.T) {
	leakcheck.Check(t)
	srv, log := newServer(t, server.Options{})
	require.NoError(t, srv.Close())
	err := srv.Listen()
	require.ErrorIs(t, err, server.ErrServerClosed)
	requireEmitted(t, log, err)
	assert.Equal(t, "socketipc: listen: server closed", err.Error())
	_, statErr := os.Lstat(srv.SocketFile())
	require.ErrorIs(t, statErr, os.ErrNotExist, "nothing was bound")

	// Listened, then closed: the same.
	srv2, log2 := startServer(t, server.Options{})
	require.NoError(t, srv2.Close())
	err = srv2.Listen()
	require.ErrorIs(t, err, server.ErrServerClosed)
	requireEmitted(t, log2, err)
}

func TestSendAfterClose(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{})
	p := dialRaw(t, srv, log)
	p.hangUpOnEOF()
	require.NoError(t, srv.Close())

	err := srv.Send("t", "m", p.ID)
	require.ErrorIs(t, err, message.ErrSendAfterClose)
	var se *message.SendError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "t", se.Topic)
	assert.Equal(t, "m", se.Message)
	assert.Equal(t, p.ID, se.ClientID)
	requireEmitted(t, log, err)

	err = srv.Broadcast("b", 7)
	require.ErrorIs(t, err, message.ErrSendAfterClose)
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "b", se.Topic)
	assert.Equal(t, 7, se.Message)
	requireEmitted(t, log, err)
}

func TestSendToBadClient(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{})

	check := func(id string) {
		t.Helper()
		err := srv.Send("t", []int{1}, id)
		require.ErrorIs(t, err, message.ErrBadClient)
		var se *message.SendError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, id, se.ClientID)
		assert.Equal(t, "t", se.Topic)
		assert.Equal(t, []int{1}, se.Message)
		requireEmitted(t, log, err)
	}
	check("not-a-client")
	check("0b7a1c52-3f4e-4e7a-9d55-2a4c6f0e8b11") // well formed, never connected

	cli, clog, id := connectClient(t, log, srv.SocketFile())
	require.NoError(t, srv.Send("t", 1, id))
	clog.Wait(t, "message")
	require.NoError(t, cli.Close())
	log.Wait(t, "connectionClose")
	check(id)
}

func TestSendUnencodable(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{})
	p := dialRaw(t, srv, log)
	for _, bad := range []any{make(chan int), math.Inf(1), math.NaN(), map[string]any{"f": func() {}}} {
		err := srv.Send("t", bad, p.ID)
		var se *message.SendError
		require.ErrorAs(t, err, &se, "%T", bad)
		var ee *message.EncodeError
		require.ErrorAs(t, err, &ee, "%T", bad)
		assert.Equal(t, "t", se.Topic)
		assert.Equal(t, p.ID, se.ClientID)
		requireEmitted(t, log, err)

		err = srv.Broadcast("b", bad)
		require.ErrorAs(t, err, &se, "%T", bad)
		require.ErrorAs(t, err, &ee, "%T", bad)
		assert.Equal(t, "b", se.Topic)
		requireEmitted(t, log, err)
	}
	// Nothing half-written: the next frame is the first on the wire.
	require.NoError(t, srv.Send("ok", 1, p.ID))
	assert.Equal(t, `{"topic":"ok","message":1}`, string(p.frame(t)))
}

// A frame that is not JSON, not an object or has no string topic is a
// *message.DecodeError with the client id and the frame; the connection
// stays usable both ways.
func TestUndecodableFrame(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{}, "message.good")
	p := dialRaw(t, srv, log)
	bad := map[string]error{
		`not json`:                    message.ErrNotJSON,
		`{"topic":"t","message":}`:    message.ErrNotJSON,
		`{"topic":"t"`:                message.ErrNotJSON,
		`[{"topic":"t","message":1}]`: message.ErrNotObject,
		`"topic"`:                     message.ErrNotObject,
		`{"message":1}`:               message.ErrNoTopic,
		`{}`:                          message.ErrNoTopic,
		`{"topic":5,"message":1}`:     message.ErrNoTopic,
		`{"topic":null,"message":1}`:  message.ErrNoTopic,
		`{"topic":["t"],"message":1}`: message.ErrNoTopic,
		`{"Topic":"t","message":1}`:   message.ErrNoTopic,
		"\xff\xfe":                    message.ErrNotJSON,
		``:                            message.ErrNotJSON,
	}
	n := 0
	for frame, want := range bad {
		p.write(t, []byte(frame+"\x00\x00"))
		err := waitError(t, log)
		var de *message.DecodeError
		require.ErrorAs(t, err, &de, "frame %q", frame)
		assert.ErrorIs(t, err, want, "frame %q", frame)
		assert.Equal(t, p.ID, de.ClientID, "frame %q", frame)
		assert.Equal(t, frame, string(de.Raw))
		assert.Contains(t, err.Error(), p.ID)

		n++
		p.write(t, frameJSON("good", "1"))
		assert.Equal(t, []any{1.0, p.ID}, log.Wait(t, "message.good").Args)
		require.NoError(t, srv.Send("reply", n, p.ID))
		got := p.frame(t)
		assert.Equal(t, `{"topic":"reply","message":`+strconv.Itoa(n)+`}`, string(got))
	}
	assert.Equal(t, len(bad), log.Count("message"), "no message event for a bad frame")
	assert.Zero(t, log.Count("connectionClose"))
}

// A frame over MaxFrameSize is an error matching message.ErrFrameTooLarge,
// with the client id; that connection is closed, the others go on.
func TestFrameTooLarge(t *testing.T) {
	leakcheck.Check(t)
	const limit = 1024
	srv, log := startServer(t, server.Options{MaxFrameSize: limit}, "message.t")
	other := dialRaw(t, srv, log)
	p := dialRaw(t, srv, log)

	// Exactly the limit is fine.
	exact := `{"topic":"t","message":"` + strings.Repeat("a", limit-len(`{"topic":"t","message":""}`)) + `"}`
	require.Len(t, exact, limit)
	p.write(t, []byte(exact+"\x00\x00"))
	log.Wait(t, "message.t")

	p.write(t, []byte(strings.Repeat("a", 4*limit))) // no delimiter
	err := waitError(t, log)
	require.ErrorIs(t, err, message.ErrFrameTooLarge)
	var de *message.DecodeError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, p.ID, de.ClientID)
	assert.NotEmpty(t, de.Raw)
	assert.LessOrEqual(t, len(de.Raw), message.MaxRawInError)
	assert.Equal(t, []any{p.ID}, log.Wait(t, "connectionClose").Args)
	_ = p.readToEnd(t) // the server dropped it (EOF or reset, unread bytes were pending)
	sendErr := srv.Send("t", 1, p.ID)
	require.ErrorIs(t, sendErr, message.ErrBadClient)
	requireEmitted(t, log, sendErr)

	// The other client is unaffected, both ways.
	other.write(t, frameJSON("t", `"still here"`))
	assert.Equal(t, []any{"still here", other.ID}, log.Wait(t, "message.t").Args)
	require.NoError(t, srv.Send("t", 2, other.ID))
	assert.Equal(t, `{"topic":"t","message":2}`, string(other.frame(t)))
	assert.Equal(t, []string{other.ID}, srv.ClientIDs())
}

// One byte over the limit, delimiter present, is already too large.
func TestFrameOneByteTooLarge(t *testing.T) {
	leakcheck.Check(t)
	const limit = 1024
	srv, log := startServer(t, server.Options{MaxFrameSize: limit})
	p := dialRaw(t, srv, log)
	over := `{"topic":"t","message":"` + strings.Repeat("a", limit+1-len(`{"topic":"t","message":""}`)) + `"}`
	require.Len(t, over, limit+1)
	p.write(t, []byte(over+"\x00\x00"))
	err := waitError(t, log)
	require.ErrorIs(t, err, message.ErrFrameTooLarge)
	var de *message.DecodeError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, p.ID, de.ClientID)
	assert.Equal(t, []any{p.ID}, log.Wait(t, "connectionClose").Args)
	assert.Zero(t, log.Count("message"))
}

// A peer that hangs up inside a frame: the partial frame is a DecodeError
// (io.ErrUnexpectedEOF) with the client id, then connectionClose.
func TestPartialFrameAtEOF(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{}, "message.t")
	p := dialRaw(t, srv, log)
	p.write(t, []byte(`{"topic":"t","message":1}`+"\x00\x00"+`{"topic":"t","mess`))
	require.NoError(t, p.CloseWrite())
	assert.Equal(t, []any{1.0, p.ID}, log.Wait(t, "message.t").Args)
	err := waitError(t, log)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	var de *message.DecodeError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, p.ID, de.ClientID)
	assert.Equal(t, `{"topic":"t","mess`, string(de.Raw))
	assert.Equal(t, []any{p.ID}, log.Wait(t, "connectionClose").Args)
	require.ErrorIs(t, p.readToEnd(t), io.EOF)
}

// Each error text says "socketipc:" once, and names what failed once.
func TestSendAfterCloseText(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{FlushTimeout: 100 * time.Millisecond})
	p := dialRaw(t, srv, log)
	require.NoError(t, srv.Close())
	err := srv.Send("hello", 1, p.ID)
	require.ErrorIs(t, err, message.ErrSendAfterClose)
	assert.Equal(t, `socketipc: send "hello" to client `+p.ID+`: send after close`, err.Error())
	err = srv.Broadcast("hello", 1)
	require.ErrorIs(t, err, message.ErrSendAfterClose)
	assert.Equal(t, `socketipc: send "hello": send after close`, err.Error())
	err = srv.Listen()
	assert.Equal(t, "socketipc: listen: server closed", err.Error())
}
