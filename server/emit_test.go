package server_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/server"
)

// Emit and Do called from many goroutines while messages arrive run on the
// event loop, one at a time with the listeners: they all update plain
// (non-atomic) variables, so -race would report any overlap. Each
// goroutine's events arrive in the order it emitted them, none is lost, and
// Emit from a listener runs the event's listeners before it returns.
func TestEmitAndDoRunOnTheLoop(t *testing.T) {
	leakcheck.Check(t)
	const goroutines, perGoroutine, messages = 8, 300, 1000
	srv, log := startServer(t, server.Options{})
	cli, _, _ := connectClient(t, log, srv.SocketFile())

	var (
		total, ticks, apps, dos int // owned by the loop
		lastSeq                 = make([]int, goroutines)
		outOfOrder              int
		nested                  []string
	)
	srv.On("message.tick", func() {
		total++
		ticks++
		if ticks == 1 {
			nested = append(nested, "before")
			srv.Emit("nested")
			nested = append(nested, "after")
		}
	})
	srv.On("nested", func() { nested = append(nested, "nested") })
	srv.On("app", func(g, seq int) {
		total++
		apps++
		if seq != lastSeq[g]+1 {
			outOfOrder++
		}
		lastSeq[g] = seq
	})
	end := make(chan struct{})
	srv.On("message.end", func() { close(end) })

	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := 1; seq <= perGoroutine; seq++ {
				srv.Emit("app", g, seq)
				srv.Do(func() { total++; dos++ })
			}
		}()
	}
	for range messages {
		require.NoError(t, cli.Send("tick", nil))
	}
	require.NoError(t, cli.Send("end", nil))
	wg.Wait()
	select {
	case <-end:
	case <-time.After(eventlog.Timeout):
		t.Fatal("the messages did not all arrive")
	}
	// Everything the goroutines queued is before this Do.
	type counts struct{ total, ticks, apps, dos, outOfOrder int }
	got := make(chan counts, 1)
	srv.Do(func() { got <- counts{total, ticks, apps, dos, outOfOrder} })
	var c counts
	select {
	case c = <-got:
	case <-time.After(eventlog.Timeout):
		t.Fatal("Do did not run")
	}
	assert.Equal(t, counts{
		total: messages + 2*goroutines*perGoroutine, ticks: messages,
		apps: goroutines * perGoroutine, dos: goroutines * perGoroutine,
	}, c)
	srv.Do(func() {
		assert.Equal(t, []string{"before", "nested", "after"}, nested, "Emit from a listener is synchronous")
		close(got)
	})
	<-got
}
