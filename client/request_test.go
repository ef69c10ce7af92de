package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
)

// 10,000 requests at once from 8 clients, each answered with what it sent:
// every caller gets its own reply, and nothing is left pending anywhere.
func TestRequestConcurrent(t *testing.T) {
	leakcheck.Check(t)
	srv := startServer(t, testsock.Path(t))
	server.Handle(srv, "echo", func(ctx context.Context, n int, _ string) (int, error) { return n, nil })
	const clients, each = 8, 1250
	var clis []*client.Client
	for range clients {
		cli := newClient(t, client.Options{SocketFile: srv.SocketFile()})
		require.NoError(t, cli.Connect())
		ctx, cancel := context.WithTimeout(context.Background(), guard)
		require.NoError(t, cli.WaitConnected(ctx))
		cancel()
		clis = append(clis, cli)
	}
	var wg sync.WaitGroup
	failures := make(chan error, clients*each)
	for ci, cli := range clis {
		for j := range each {
			wg.Add(1)
			go func() {
				defer wg.Done()
				want := ci*each + j
				var got int
				if err := cli.Request(context.Background(), "echo", want, &got); err != nil {
					failures <- err
				} else if got != want {
					failures <- fmt.Errorf("sent %d, got %d", want, got)
				}
			}()
		}
	}
	wg.Wait()
	close(failures)
	for err := range failures {
		t.Error(err)
	}
	for _, cli := range clis {
		assert.Zero(t, client.PendingRequests(cli))
	}
}

// A reply never overtakes the messages that arrived before it: when Request
// returns, the listeners of every earlier message have run, even when they
// came in the same read.
func TestRequestReplyAfterEarlierListeners(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	raw := listenRaw(t, path)
	cli := newClient(t, client.Options{SocketFile: path})
	seen := 0 // written by the listener, read by the caller after Request
	cli.On("message.note", func() { seen++ })
	require.NoError(t, cli.Connect())
	c := raw.accept()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	require.NoError(t, cli.WaitConnected(ctx))
	for i := range 20 {
		done := make(chan error, 1)
		go func() { done <- cli.Request(ctx, "q", i, nil) }()
		fr := message.NewFrameReader(c, message.Framing{}, 0)
		var frames [][]byte
		for len(frames) == 0 {
			var err error
			frames, err = fr.Next()
			require.NoError(t, err)
		}
		var req struct{ Message struct{ ID string } }
		require.NoError(t, json.Unmarshal(frames[0], &req))
		var burst []byte
		for range 50 {
			burst = append(burst, frame("note", nil)...)
		}
		burst = append(burst, rawFrame(fmt.Sprintf(`{"topic":"$res","message":{"id":%q,"data":1}}`, req.Message.ID))...)
		_, err := c.Write(burst)
		require.NoError(t, err)
		require.NoError(t, <-done)
		assert.Equal(t, 50*(i+1), seen, "request %d returned before the listeners of earlier messages ran", i)
	}
}
