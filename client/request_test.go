package client_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
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
