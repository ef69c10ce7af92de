package server_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type seqMsg struct {
	C int `json:"c"`
	N int `json:"n"`
}

// Under many concurrent clients, listeners never run at once, each sees
// what the earlier ones did, and each client's messages keep their order.
func TestSerialDelivery(t *testing.T) {
	leakcheck.Check(t)
	guard(t, 60*time.Second)
	const clients, perClient = 8, 500
	srv, log := startServer(t, server.Options{}, "message.seq")

	var (
		inListener atomic.Int32
		overlaps   atomic.Int32
		plain      int // not atomic: the race detector checks happens-before
		next       = map[string]int{}
		owner      = map[string]int{}
		closedAt   = map[string]int{}
		orderErrs  []string
	)
	enter := func() {
		if inListener.Add(1) != 1 {
			overlaps.Add(1)
		}
		plain++
	}
	leave := func() { inListener.Add(-1) }
	srv.On("connection", func(id string) {
		enter()
		defer leave()
		next[id] = 0
	})
	srv.On("message", func(m seqMsg, topic, id string) {
		enter()
		defer leave()
		if c, ok := owner[id]; ok && c != m.C {
			orderErrs = append(orderErrs, fmt.Sprintf("client %s sent as %d and %d", id, c, m.C))
		}
		owner[id] = m.C
		if m.N != next[id] {
			orderErrs = append(orderErrs, fmt.Sprintf("client %d: got %d, want %d", m.C, m.N, next[id]))
		}
	})
	srv.On("message.seq", func(m seqMsg, id string) {
		enter()
		defer leave()
		next[id] = m.N + 1 // message.<topic> sees what message did
	})
	srv.On("connectionClose", func(id string) {
		enter()
		defer leave()
		closedAt[id] = next[id]
	})

	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		cli, err := client.New(client.Options{SocketFile: srv.SocketFile()})
		require.NoError(t, err)
		t.Cleanup(func() { _ = cli.Close() })
		connected := make(chan struct{})
		cli.Once("connect", func() { close(connected) })
		require.NoError(t, cli.Connect())
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-connected:
			case <-time.After(ioTimeout):
				errs <- fmt.Errorf("client %d did not connect", c)
				return
			}
			for n := range perClient {
				if err := cli.Send("seq", seqMsg{C: c, N: n}); err != nil {
					errs <- err
					return
				}
			}
			// Close flushes: every message sent reaches the server.
			if err := cli.Close(); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	log.WaitCount(t, "connectionClose", clients)
	require.NoError(t, srv.Close())
	// Close has returned: the loop is done, and everything it did is visible.
	assert.Zero(t, overlaps.Load(), "listeners ran at the same time")
	assert.Empty(t, orderErrs)
	assert.Len(t, closedAt, clients)
	for id, n := range closedAt {
		assert.Equal(t, perClient, n, "client %s: messages before connectionClose", id)
	}
	assert.Equal(t, 2*clients+2*clients*perClient, plain)
	assert.Zero(t, log.Count("error"), "errors: %v", log.All())
}

// A listener may call anything of the library, Close included, without
// deadlock.
func TestReentrancy(t *testing.T) {
	leakcheck.Check(t)
	guard(t, 30*time.Second)
	srv, log := startServer(t, server.Options{}, "message.go", "message.stop", "custom")
	cli, clog, id := connectClient(t, log, srv.SocketFile(), "message.echo", "message.all")

	var (
		steps     []string
		stopSteps []string
		sendErr   error
		customArg any
		closeErrs []error
	)
	step := func(format string, args ...any) { steps = append(steps, fmt.Sprintf(format, args...)) }
	srv.On("custom", func(v any) { customArg = v; step("custom %v", v) })
	srv.Once("message.go", func(msg any, from string) {
		h := srv.On("x", func() {})
		srv.Once("y", func() {})
		srv.On("z", func() {})
		step("count x=%d y=%d z=%d", srv.ListenerCount("x"), srv.ListenerCount("y"), srv.ListenerCount("z"))
		step("off %v %v", h.Off(), srv.Off(h))
		srv.RemoveAllListeners("z")
		step("count x=%d y=%d z=%d", srv.ListenerCount("x"), srv.ListenerCount("y"), srv.ListenerCount("z"))
		// An On made during this emit is not called by it.
		srv.On("message.go", func() { step("late listener"); log.Add("late") })

		step("send %v", srv.Send("echo", msg, from))
		sendErr = srv.Send("echo", msg, "no-such-client")
		step("broadcast %v", srv.Broadcast("all", "everyone"))
		srv.Emit("custom", 42)
		step("emit")
		srv.Emit("y")
		step("emit y")
		step("ids %d", len(srv.ClientIDs()))
		step("done")
	})
	srv.On("message.stop", func() {
		closeErrs = append(closeErrs, srv.Close())
		stopSteps = append(stopSteps, "closed inside")
		closeErrs = append(closeErrs, srv.Close())
		err := srv.Send("after", 1, id)
		stopSteps = append(stopSteps, fmt.Sprintf("send after close: %v", errors.Is(err, message.ErrSendAfterClose)))
	})
	srv.On("message.stop", func() { log.Add("stop handled") })

	require.NoError(t, cli.Send("go", "ping"))
	assert.Equal(t, []any{"ping"}, clog.Wait(t, "message.echo").Args)
	assert.Equal(t, []any{"everyone"}, clog.Wait(t, "message.all").Args)
	// The bad send's error comes as an event, after the listener returned.
	err := waitError(t, log)
	require.ErrorIs(t, err, message.ErrBadClient)
	require.True(t, err == sendErr, "the emitted error is the one Send returned")
	assert.Equal(t, []string{
		"count x=1 y=1 z=1",
		"off true false",
		"count x=0 y=1 z=0",
		"send <nil>",
		"broadcast <nil>",
		"custom 42",
		"emit",
		"emit y",
		"ids 1",
		"done",
	}, steps)
	assert.Equal(t, 42, customArg)
	assert.Equal(t, 0, srv.ListenerCount("y"), "the Once listener ran and is gone")

	// The late listener is called by the next emit (and the Once one is not).
	require.NoError(t, cli.Send("go", "again"))
	log.Wait(t, "late")
	assert.Equal(t, "late listener", steps[len(steps)-1])
	assert.Len(t, steps, 11)

	require.NoError(t, cli.Send("stop", nil))
	log.Wait(t, "stop handled")
	log.Wait(t, "close")
	clog.Wait(t, "disconnect")
	require.NoError(t, srv.Close())
	assert.Equal(t, []error{nil, nil}, closeErrs)
	assert.Equal(t, []string{"closed inside", "send after close: true"}, stopSteps)
	assert.Equal(t, 1, log.Count("close"))
	assert.Equal(t, 1, log.Count("closed"))
}

// Emitting an event from a listener is synchronous and nested, and the
// events a Server posts itself still come in order after it.
func TestEmitFromListenerIsNested(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{}, "message.a", "inner")
	srv.On("message.a", func(_ any, id string) {
		srv.Emit("inner", id)
		log.Add("after inner")
	})
	p := dialRaw(t, srv, log)
	p.write(t, frameJSON("a", "1"))
	log.Wait(t, "after inner")
	names := log.Names()
	i := indexOf(names, "inner")
	require.GreaterOrEqual(t, i, 1)
	assert.Equal(t, []string{"message.a", "inner", "after inner"}, names[i-1:i+2])
}
