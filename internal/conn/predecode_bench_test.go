package conn

import (
	"bytes"
	"net"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/socketipc/socketipc/emitter"
	"github.com/socketipc/socketipc/internal/benchmark/bench"
	"github.com/socketipc/socketipc/internal/loop"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/message"
)

// Several connections feeding one loop, each message decoded into a
// struct by the one listener: with decoding ahead, each reader decodes
// while the loop delivers; without, the loop decodes everything.
//
//	go test -run '^$' -bench BenchmarkDecodeAheadConnections -benchtime 200000x ./internal/conn
func BenchmarkDecodeAheadConnections(b *testing.B) {
	for _, off := range []bool{false, true} {
		name := "ahead"
		if off {
			name = "on delivery"
		}
		b.Run(name, func(b *testing.B) {
			decodeAheadOff = off
			defer func() { decodeAheadOff = false }()
			benchConnections(b, 4)
		})
	}
}

func benchConnections(b *testing.B, conns int) {
	path := testsock.Path(b)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	em := emitter.New(emitter.Options{})
	var got atomic.Int64
	done := make(chan struct{})
	total := int64(b.N / conns * conns)
	em.On("message.order", func(o aheadOrder) {
		if got.Add(1) == total {
			close(done)
		}
	})
	l := loop.New()
	defer func() { l.Stop(); <-l.Done() }()
	var frame bytes.Buffer
	order := aheadOrder{ID: 123456, Name: "Customer 456", Items: []aheadItem{{"SKU-11368", 2}, {"SKU-25016", 1}}, Tags: []string{"express"}}
	if err := EncodeFrame(message.JSON, message.Framing{}, "order", order, func(f []byte) error { frame.Write(f); return nil }); err != nil {
		b.Fatal(err)
	}
	wire := bytes.Repeat(frame.Bytes(), b.N/conns)
	peers := make([]net.Conn, conns)
	cs := make([]*Conn, conns)
	for i := range conns {
		if peers[i], err = net.Dial("unix", path); err != nil {
			b.Fatal(err)
		}
		defer peers[i].Close()
		nc, err := ln.AcceptUnix()
		if err != nil {
			b.Fatal(err)
		}
		cs[i] = New(nc, Config{
			Loop:       l,
			DecodeType: func(t *Topic) reflect.Type { return emitter.DecodeType(em, t.Event, 0) },
			OnMessages: func(_ *Conn, msgs []Msg) {
				for i := range msgs {
					em.Emit(msgs[i].Topic.Event, &msgs[i])
					msgs[i].Delivered()
				}
			},
		})
		cs[i].Run()
		defer func(c *Conn) { c.Close(); <-c.Done() }(cs[i])
	}
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = p.Write(wire)
		}()
	}
	if total > 0 {
		<-done
	}
	b.StopTimer()
	wg.Wait()
	for _, p := range peers {
		p.Close()
	}
}

// What charging an S4 order decoded into any costs: heldByAny against
// heldBy's reflection.
//
//	go test -run '^$' -bench BenchmarkHeldByOrder ./internal/conn
func BenchmarkHeldByOrder(b *testing.B) {
	var v any
	if err := message.JSON.Unmarshal(bench.AppendOrderJSON(nil, 5), &v); err != nil {
		b.Fatal(err)
	}
	b.Run("heldByAny", func(b *testing.B) {
		for range b.N {
			heldByAny(v)
		}
	})
	b.Run("heldBy", func(b *testing.B) {
		for range b.N {
			heldBy(reflect.ValueOf(&v).Elem())
		}
	})
}
