package emitter_test

import (
	"encoding/json"
	"testing"

	"github.com/socketipc/socketipc/emitter"
)

var sink any

func BenchmarkEmitNoParam(b *testing.B) {
	e := emitter.New(emitter.Options{})
	n := 0
	e.On("x", func() { n++ })
	b.ReportAllocs()
	for b.Loop() {
		e.Emit("x")
	}
	sink = n
}

func BenchmarkEmitAnyPayload(b *testing.B) {
	e := emitter.New(emitter.Options{})
	e.On("message", func(msg any, topic, clientID string) { sink = msg })
	p := payload(`{"name":"gopher","n":3}`)
	b.ReportAllocs()
	for b.Loop() {
		e.Emit("message", p, "hello", "0b8f7c2e-8a4d-4c1e-9f1b-2d3c4e5f6a7b")
	}
}

func BenchmarkEmitRawMessage(b *testing.B) {
	e := emitter.New(emitter.Options{})
	n := 0
	e.On("message", func(msg json.RawMessage, topic string) { n += len(msg) })
	p := payload(`{"name":"gopher","n":3}`)
	b.ReportAllocs()
	for b.Loop() {
		e.Emit("message", p, "hello")
	}
	sink = n
}

func BenchmarkEmitStruct(b *testing.B) {
	e := emitter.New(emitter.Options{})
	n := 0
	e.On("message.hello", func(msg hello, clientID string) { n += msg.N })
	p := payload(`{"name":"gopher","n":3}`)
	b.ReportAllocs()
	for b.Loop() {
		e.Emit("message.hello", p, "0b8f7c2e-8a4d-4c1e-9f1b-2d3c4e5f6a7b")
	}
	sink = n
}

func BenchmarkEmitReflect(b *testing.B) {
	e := emitter.New(emitter.Options{})
	n := 0
	e.On("x", func(a int, s string) { n += a + len(s) })
	b.ReportAllocs()
	for b.Loop() {
		e.Emit("x", 1, "s")
	}
	sink = n
}

// BenchmarkEmitParallel: one fast listener, emitted from all Ps at once
// (the read lock is shared).
func BenchmarkEmitParallel(b *testing.B) {
	e := emitter.New(emitter.Options{})
	e.On("x", func(msg any, topic string) {})
	p := payload(`1`)
	p.PayloadValue()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e.Emit("x", p, "t")
		}
	})
}

// BenchmarkDecodeStructBaseline is the payload decode alone that
// BenchmarkEmitStruct includes, to show the emitter's share.
func BenchmarkDecodeStructBaseline(b *testing.B) {
	p := payload(`{"name":"gopher","n":3}`)
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		var h hello
		if err := p.DecodePayload("x", &h); err != nil {
			b.Fatal(err)
		}
		n += h.N
	}
	sink = n
}
