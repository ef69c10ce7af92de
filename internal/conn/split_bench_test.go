package conn

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/socketipc/socketipc/emitter"
	"github.com/socketipc/socketipc/internal/benchmark/bench"
	"github.com/socketipc/socketipc/internal/loop"
)

// One batch of k S4 orders delivered by the reader with the loop idle,
// to a listener taking any or the struct, split between the reader and a
// helper or not: where splitting starts to pay (splitMinBytes).
//
//	go test -run '^$' -bench BenchmarkSplitBatch ./internal/conn
func BenchmarkSplitBatch(b *testing.B) {
	for _, into := range []string{"any", "struct"} {
		for _, k := range []int{4, 8, 16, 32, 64, 170} {
			for _, off := range []bool{true, false} {
				name := fmt.Sprintf("%s/%d/split=%v", into, k, !off)
				b.Run(name, func(b *testing.B) { benchSplitBatch(b, into, k, off) })
			}
		}
	}
}

func benchSplitBatch(b *testing.B, into string, k int, off bool) {
	splitOff = off
	minBytes := splitMinBytes
	splitMinBytes = 0
	defer func() { splitOff, splitMinBytes = false, minBytes }()
	em := emitter.New(emitter.Options{})
	got := 0
	if into == "any" {
		em.On("message.order", func(v any) { got++ })
	} else {
		em.On("message.order", func(o bench.Order) { got++ })
	}
	l := loop.New()
	defer func() { l.Stop(); <-l.Done() }()
	c := &Conn{cfg: Config{
		Loop:       l,
		DecodeType: func(t *Topic) reflect.Type { return emitter.DecodeType(em, t.Event, 0) },
		OnMessages: func(_ *Conn, msgs []Msg) {
			for i := range msgs {
				em.Emit(msgs[i].Topic.Event, &msgs[i])
				msgs[i].Delivered()
			}
		},
	}}
	c.cfg.SetDefaults()
	c.origin = origin{transcoder: c.cfg.Transcoder}
	topic := &Topic{Name: "order", Boxed: "order", Event: "message.order"}
	payloads := make([][]byte, k)
	for i := range payloads {
		payloads[i] = bench.AppendOrderJSON(nil, i)
	}
	msgs := make([]Msg, k)
	b.ResetTimer()
	for range b.N {
		for i := range msgs {
			msgs[i] = Msg{Topic: topic, Payload: payloads[i], from: &c.origin}
		}
		if second, from := c.splitBatch(msgs); second != nil {
			c.inflight.Add(second.window)
			c.inflight.Add(-(second.window - c.deliverSplit(msgs, second, from)))
		} else {
			c.cfg.OnMessages(c, msgs)
		}
		c.inflight.Store(0)
	}
	b.StopTimer()
	c.helpers.Wait()
	if got != b.N*k {
		b.Fatalf("delivered %d, want %d", got, b.N*k)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*k), "ns/msg")
}
