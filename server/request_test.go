package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
)

type sum struct {
	A, B int
}

// A client's Request reaches the server's handler with its payload decoded
// into Req and the client's id; the handler's result comes back decoded
// into the caller's reply; the server's Request reaches a client's handler
// the same way. Nothing is left pending afterwards.
func TestRequestBothWays(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{})
	var gotID string
	server.Handle(srv, "add", func(ctx context.Context, req sum, clientID string) (int, error) {
		gotID = clientID
		return req.A + req.B, nil
	})
	cli, _, id := connectClient(t, log, srv.SocketFile())
	client.Handle(cli, "upper", func(ctx context.Context, s string) (map[string]string, error) {
		return map[string]string{"up": s + "!"}, nil
	})

	var n int
	require.NoError(t, cli.Request(context.Background(), "add", sum{2, 3}, &n))
	assert.Equal(t, 5, n)
	srv.Do(func() { assert.Equal(t, id, gotID) })

	var up map[string]string
	require.NoError(t, srv.Request(context.Background(), id, "upper", "go", &up))
	assert.Equal(t, map[string]string{"up": "go!"}, up)

	require.NoError(t, cli.Request(context.Background(), "add", sum{1, 1}, nil), "a nil reply ignores the result")
	assert.Zero(t, server.PendingRequests(srv))
}

// The wire convention, byte for byte, seen from a raw peer: a request is
// {"id","data"} on "$req.<topic>"; the reply echoes the id on "$res" with
// "data", a failure with "error":{"message"}; no handler is a failure.
func TestRequestWireConvention(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{})
	server.Handle(srv, "add", func(ctx context.Context, req sum, _ string) (int, error) {
		if req.A < 0 {
			return 0, errors.New("negative")
		}
		return req.A + req.B, nil
	})
	p := dialRaw(t, srv, log)

	p.write(t, frameJSON("$req.add", `{"id":"x1","data":{"A":2,"B":40}}`))
	assert.Equal(t, `{"topic":"$res","message":{"id":"x1","data":42}}`, string(p.frame(t)))
	p.write(t, frameJSON("$req.add", `{"id":7,"data":{"A":-1}}`))
	assert.Equal(t, `{"topic":"$res","message":{"id":7,"error":{"message":"negative"}}}`, string(p.frame(t)))
	p.write(t, frameJSON("$req.nope", `{"id":"x3","data":null}`))
	assert.Equal(t, `{"topic":"$res","message":{"id":"x3","error":{"message":"no handler for request topic \"nope\""}}}`, string(p.frame(t)))
	p.write(t, frameJSON("$req.add", `{"id":"x4","data":"not a sum"}`))
	assert.Contains(t, string(p.frame(t)), `{"topic":"$res","message":{"id":"x4","error":{"message":"request \"add\": payload does not fit server_test.sum`)
	// Requests do not reach "message" listeners; ordinary frames still do.
	p.write(t, frameJSON("plain", `1`))
	assert.Equal(t, "plain", log.Wait(t, "message").Arg(1))
	assert.Equal(t, 1, log.Count("message"), "%v", log.All())

	// The server's request, as the raw peer sees it, and its answer.
	done := make(chan error, 1)
	var reply []int
	go func() { done <- srv.Request(context.Background(), p.ID, "list", map[string]int{"n": 2}, &reply) }()
	var req struct {
		Topic   string
		Message struct {
			ID   string
			Data map[string]int
		}
	}
	require.NoError(t, json.Unmarshal(p.frame(t), &req))
	assert.Equal(t, "$req.list", req.Topic)
	assert.Equal(t, map[string]int{"n": 2}, req.Message.Data)
	require.NotEmpty(t, req.Message.ID)
	p.write(t, frameJSON("$res", fmt.Sprintf(`{"id":%q,"data":[1,2]}`, req.Message.ID)))
	require.NoError(t, <-done)
	assert.Equal(t, []int{1, 2}, reply)
	assert.Zero(t, server.PendingRequests(srv))
}

// A handler's error reaches the caller as a *message.RemoteError with the
// handler's text; no handler at all is a RemoteError too, at once.
func TestRequestRemoteErrorAndNoHandler(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{})
	server.Handle(srv, "fail", func(ctx context.Context, _ any, _ string) (any, error) {
		return nil, fmt.Errorf("disk full")
	})
	cli, clog, _ := connectClient(t, log, srv.SocketFile())

	err := cli.Request(context.Background(), "fail", nil, nil)
	var re *message.RemoteError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "disk full", re.Message)
	assert.Equal(t, "fail", re.Topic)
	requireEmitted(t, clog, err)

	ctx, cancel := context.WithTimeout(context.Background(), eventlog.Timeout)
	defer cancel()
	err = cli.Request(ctx, "missing", 1, nil)
	require.ErrorAs(t, err, &re)
	assert.Equal(t, `no handler for request topic "missing"`, re.Message)
	assert.NoError(t, ctx.Err(), "no handler fails fast, not at the deadline")
}

// A plain listener of "message.$req.<topic>" is not a handler: it cannot
// answer, so the caller gets the no-handler failure at once, and the
// listener still sees the request.
func TestRequestPlainListenerIsNoHandler(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{})
	srv.On("message.$req.watched", func(msg json.RawMessage, clientID string) {
		log.Add("watched", string(msg))
	})
	cli, _, _ := connectClient(t, log, srv.SocketFile())

	ctx, cancel := context.WithTimeout(context.Background(), eventlog.Timeout)
	defer cancel()
	err := cli.Request(ctx, "watched", 7, nil)
	var re *message.RemoteError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, `no handler for request topic "watched"`, re.Message)
	assert.NoError(t, ctx.Err(), "no handler fails fast, not at the deadline")
	got := log.Wait(t, "watched")
	assert.Contains(t, got.Args[0], `"data":7`, "the listener saw the request")
}

// A request whose peer never answers ends with ctx: its deadline, or its
// cancellation; nothing stays pending, and a late reply is dropped.
func TestRequestTimeoutAndCancel(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{})
	p := dialRaw(t, srv, log)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := srv.Request(ctx, p.ID, "slow", nil, nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Zero(t, server.PendingRequests(srv))

	ctx2, cancel2 := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Request(ctx2, p.ID, "slow", nil, nil) }()
	p.frame(t) // the first request
	var req struct{ Message struct{ ID string } }
	require.NoError(t, json.Unmarshal(p.frame(t), &req)) // the second is on the wire
	assert.Equal(t, 1, server.PendingRequests(srv))
	cancel2()
	require.ErrorIs(t, <-done, context.Canceled)
	assert.Zero(t, server.PendingRequests(srv))

	// The late reply finds nothing and harms nothing.
	p.write(t, frameJSON("$res", fmt.Sprintf(`{"id":%q,"data":1}`, req.Message.ID)))
	p.write(t, frameJSON("after", `1`))
	log.Wait(t, "message")
	assert.Equal(t, 2, log.Count("error"), "the two failed calls only: %v", log.All())
}

// A connection that drops while a request waits fails it at once (well
// before its deadline), as does Close with requests pending.
func TestRequestConnectionDropAndClose(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{})
	long, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	p := dialRaw(t, srv, log)
	done := make(chan error, 1)
	go func() { done <- srv.Request(long, p.ID, "x", nil, nil) }()
	p.frame(t)
	p.Close()
	err := receive(t, done)
	require.ErrorIs(t, err, message.ErrRequestInterrupted)

	// Client side: the server goes away mid-request.
	srv2, log2 := startServer(t, server.Options{})
	called := make(chan struct{}, 3)
	server.Handle(srv2, "hang", func(ctx context.Context, _ any, _ string) (any, error) {
		server.ReplyLater(ctx) // and never reply
		called <- struct{}{}
		return nil, nil
	})
	cli, _, _ := connectClient(t, log2, srv2.SocketFile())
	for range 3 {
		go func() { done <- cli.Request(long, "hang", nil, nil) }()
	}
	for range 3 {
		receive(t, called)
	}
	require.NoError(t, srv2.Close())
	for range 3 {
		require.ErrorIs(t, receive(t, done), message.ErrRequestInterrupted)
	}

	// Close of the caller's own side, with requests pending.
	p3 := dialRaw(t, srv, log)
	for range 3 {
		go func() { done <- srv.Request(long, p3.ID, "x", nil, nil) }()
	}
	require.Eventually(t, func() bool { return server.PendingRequests(srv) == 3 }, eventlog.Timeout, time.Millisecond)
	p3.hangUpOnEOF()
	require.NoError(t, srv.Close())
	for range 3 {
		require.ErrorIs(t, receive(t, done), message.ErrRequestInterrupted)
	}
	assert.Zero(t, server.PendingRequests(srv))
	require.ErrorIs(t, srv.Request(long, p3.ID, "x", nil, nil), message.ErrSendAfterClose)
}

// A slow handler hands the reply to a goroutine with ReplyLater and returns
// at once, so the loop goes on delivering; the reply (or failure) arrives
// when the goroutine sends it, and only once.
func TestRequestReplyLater(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{}, "message.ping")
	release := make(chan struct{})
	second := make(chan error, 1)
	started := make(chan struct{}, 2)
	var wg sync.WaitGroup
	server.Handle(srv, "slow", func(ctx context.Context, n int, _ string) (int, error) {
		reply := server.ReplyLater(ctx)
		started <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-release
			if n < 0 {
				_ = reply(nil, errors.New("negative"))
				return
			}
			_ = reply(n*2, nil)
			second <- reply(0, nil)
		}()
		return 0, nil // ignored
	})
	cli, _, _ := connectClient(t, log, srv.SocketFile())
	results := make(chan error, 2)
	var got int
	go func() { results <- cli.Request(context.Background(), "slow", 21, &got) }()
	go func() { results <- cli.Request(context.Background(), "slow", -1, nil) }()
	receive(t, started)
	receive(t, started)
	require.NoError(t, cli.Send("ping", nil))
	log.Wait(t, "message.ping") // the loop is free while both wait
	assert.Equal(t, 2, cli.Stats().RequestsInFlight, "the caller's Stats count both")
	assert.Zero(t, srv.Stats().RequestsInFlight, "the answering side sent none")
	close(release)
	errs := []error{receive(t, results), receive(t, results)}
	assert.Zero(t, cli.Stats().RequestsInFlight, "none once both ended")
	var re *message.RemoteError
	assert.True(t, (errs[0] == nil) != (errs[1] == nil), "one succeeds, one fails: %v", errs)
	assert.True(t, errors.As(errors.Join(errs...), &re) && re.Message == "negative")
	assert.Equal(t, 42, got)
	assert.Error(t, receive(t, second), "a second reply is refused")
	wg.Wait()
	assert.Panics(t, func() { server.ReplyLater(context.Background()) })
}

// Request from a listener would wait for the loop it blocks: it fails at
// once instead. A reply that is not a pointer fails before sending.
func TestRequestMisuse(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{}, "message.go")
	cli, _, id := connectClient(t, log, srv.SocketFile())
	errs := make(chan error, 1)
	srv.On("message.go", func() { errs <- srv.Request(context.Background(), id, "x", nil, nil) })
	require.NoError(t, cli.Send("go", nil))
	require.ErrorIs(t, receive(t, errs), message.ErrRequestOnLoop)
	var n int
	require.Error(t, cli.Request(context.Background(), "x", nil, n))
	require.ErrorIs(t, srv.Request(context.Background(), "nobody", "x", nil, nil), message.ErrBadClient)
	assert.Zero(t, server.PendingRequests(srv))
}

// A handler that panics answers with a failure, and the panic is reported
// on "error"; a handler's ctx is done once the caller's connection ends.
func TestRequestHandlerPanicAndContext(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{})
	server.Handle(srv, "boom", func(ctx context.Context, _ any, _ string) (any, error) { panic("kaboom") })
	ctxs := make(chan context.Context, 1)
	server.Handle(srv, "keep", func(ctx context.Context, _ any, _ string) (any, error) {
		ctxs <- ctx
		return nil, nil
	})
	cli, _, _ := connectClient(t, log, srv.SocketFile())

	err := cli.Request(context.Background(), "boom", nil, nil)
	var re *message.RemoteError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, `handler of "boom" panicked`, re.Message)
	assert.Contains(t, waitError(t, log).Error(), "kaboom")

	require.NoError(t, cli.Request(context.Background(), "keep", nil, nil))
	ctx := receive(t, ctxs)
	require.NoError(t, ctx.Err())
	require.NoError(t, cli.Close())
	select {
	case <-ctx.Done():
	case <-time.After(eventlog.Timeout):
		t.Fatal("the handler's ctx is not done after its connection ended")
	}
	assert.ErrorIs(t, ctx.Err(), context.Canceled)
}
