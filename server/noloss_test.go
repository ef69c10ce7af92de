package server_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// counter is a Go client that checks the numbers it receives come in
// order, and records how many it had when the connection dropped.
type counter struct {
	cli          *client.Client
	mu           sync.Mutex
	got          int
	bad          []string
	atDisconnect int
	disconnected chan struct{}
}

func newCounter(t *testing.T, path string) *counter {
	t.Helper()
	cli, err := client.New(client.Options{SocketFile: path})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Close() })
	c := &counter{cli: cli, disconnected: make(chan struct{})}
	cli.On("message", func(n float64, topic string) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if topic != "n" || int(n) != c.got {
			if len(c.bad) < 10 {
				c.bad = append(c.bad, fmt.Sprintf("message %d: topic %q, n %v", c.got, topic, n))
			}
		}
		c.got++
	})
	cli.On("error", func(err error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.bad = append(c.bad, "error: "+err.Error())
	})
	cli.Once("disconnect", func() {
		c.mu.Lock()
		c.atDisconnect = c.got
		c.mu.Unlock()
		close(c.disconnected)
	})
	return c
}

func (c *counter) waitDisconnect(t *testing.T) {
	t.Helper()
	select {
	case <-c.disconnected:
	case <-time.After(2 * ioTimeout):
		c.mu.Lock()
		defer c.mu.Unlock()
		t.Fatalf("no disconnect; %d messages so far", c.got)
	}
}

const burst = 20000

// Every Broadcast that returned nil before Close reaches every client, in
// order, before its connection ends.
func TestNothingLostBroadcastThenClose(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{})
	counters := []*counter{newCounter(t, srv.SocketFile()), newCounter(t, srv.SocketFile())}
	for _, c := range counters {
		require.NoError(t, c.cli.Connect())
	}
	log.WaitCount(t, "connection", len(counters))
	for i := range burst {
		require.NoError(t, srv.Broadcast("n", i))
	}
	require.NoError(t, srv.Close())
	for i, c := range counters {
		c.waitDisconnect(t)
		c.mu.Lock()
		assert.Equal(t, burst, c.atDisconnect, "client %d: messages before disconnect", i)
		assert.Empty(t, c.bad, "client %d", i)
		c.mu.Unlock()
	}
	assert.Zero(t, log.Count("error"), "errors: %v", log.All())
}

// The same for Send to one client.
func TestNothingLostSendThenClose(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{})
	c := newCounter(t, srv.SocketFile())
	require.NoError(t, c.cli.Connect())
	id := log.Wait(t, "connection").Arg(0).(string)
	for i := range burst {
		require.NoError(t, srv.Send("n", i, id))
	}
	require.NoError(t, srv.Close())
	c.waitDisconnect(t)
	c.mu.Lock()
	defer c.mu.Unlock()
	assert.Equal(t, burst, c.atDisconnect)
	assert.Empty(t, c.bad)
	assert.Zero(t, log.Count("error"), "errors: %v", log.All())
}

// Close from a listener flushes too.
func TestNothingLostCloseFromListener(t *testing.T) {
	leakcheck.Check(t)
	guard(t, 60*time.Second)
	srv, log := startServer(t, server.Options{}, "message.go")
	c := newCounter(t, srv.SocketFile())
	srv.On("message.go", func(_ any, id string) {
		for i := range burst {
			if err := srv.Send("n", i, id); err != nil {
				panic(err) // emitted as an error event, which the test checks
			}
		}
		_ = srv.Close()
	})
	c.cli.On("connect", func() { _ = c.cli.Send("go", nil) })
	require.NoError(t, c.cli.Connect())
	c.waitDisconnect(t)
	c.mu.Lock()
	defer c.mu.Unlock()
	assert.Equal(t, burst, c.atDisconnect)
	assert.Empty(t, c.bad)
	log.Wait(t, "close")
	assert.Zero(t, log.Count("error"), "errors: %v", log.All())
}
