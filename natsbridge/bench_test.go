package natsbridge_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/natsbridge"
)

// Messages one way, from a client of one Server to a client of another
// through two bridges, against nats.go alone (publisher to subscriber on
// two connections). Each op is one message; the run ends when all arrived.
func BenchmarkOneWay(b *testing.B) {
	payload := map[string]any{"n": 1, "text": "hello"}
	raw, _ := json.Marshal(payload)
	b.Run("bridge", func(b *testing.B) {
		ns := runNATS(b)
		a, c := newHost(b), newHost(b)
		opts := natsbridge.Options{Topics: []string{"t"}, MaxPending: 1 << 20}
		ba := bridge(b, a, connectNATS(b, ns), opts)
		bridge(b, c, connectNATS(b, ns), opts)
		var got atomic.Int64
		all := make(chan struct{})
		c.cli.RemoveAllListeners(client.EventMessage)
		c.cli.On(client.EventMessage, func(json.RawMessage) {
			if got.Add(1) == int64(b.N) {
				close(all)
			}
		})
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for a.cli.Send("t", payload) != nil { // queue full: let it drain
				time.Sleep(time.Millisecond)
			}
		}
		select {
		case <-all:
		case <-time.After(time.Minute):
			b.Fatalf("%d of %d arrived; bridge a: %+v", got.Load(), b.N, ba.Stats())
		}
	})
	b.Run("nats", func(b *testing.B) {
		ns := runNATS(b)
		pub, subc := connectNATS(b, ns), connectNATS(b, ns)
		var got atomic.Int64
		all := make(chan struct{})
		sub, err := subc.Subscribe("t", func(*nats.Msg) {
			if got.Add(1) == int64(b.N) {
				close(all)
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		_ = sub.SetPendingLimits(-1, -1)
		if err := subc.Flush(); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := pub.Publish("t", raw); err != nil {
				b.Fatal(err)
			}
		}
		select {
		case <-all:
		case <-time.After(time.Minute):
			b.Fatalf("%d of %d arrived", got.Load(), b.N)
		}
	})
}

// One request and its reply at a time: a client's Request answered by a
// client of another Server through two bridges, against nc.Request answered
// by a nats.go subscriber.
func BenchmarkRoundTrip(b *testing.B) {
	b.Run("bridge", func(b *testing.B) {
		ns := runNATS(b)
		asker, answerer := newHost(b), newHost(b)
		client.Handle(answerer.cli, "echo", func(_ context.Context, n int) (int, error) { return n, nil })
		bridge(b, asker, connectNATS(b, ns), natsbridge.Options{Requests: []string{"echo"}})
		bridge(b, answerer, connectNATS(b, ns), natsbridge.Options{
			Requests: []string{"echo"},
			Answerer: func(string) string { return answerer.id },
		})
		ctx := context.Background()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			var n int
			if err := asker.cli.Request(ctx, "echo", i, &n); err != nil || n != i {
				b.Fatalf("%d: %d, %v", i, n, err)
			}
		}
	})
	b.Run("nats", func(b *testing.B) {
		ns := runNATS(b)
		nc, resp := connectNATS(b, ns), connectNATS(b, ns)
		if _, err := resp.Subscribe("echo", func(m *nats.Msg) { _ = m.Respond(m.Data) }); err != nil {
			b.Fatal(err)
		}
		if err := resp.Flush(); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := nc.Request("echo", []byte("1"), 5*time.Second); err != nil {
				b.Fatal(err)
			}
		}
	})
}
