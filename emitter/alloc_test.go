//go:build !race

package emitter_test

import (
	"encoding/json"
	"testing"

	"github.com/socketipc/socketipc/emitter"
)

// Emitting to a listener of a direct shape allocates nothing beyond the
// caller's own arguments (none here: constants and a pointer).
func TestEmitDirectShapesDoNotAllocate(t *testing.T) {
	e := emitter.New(emitter.Options{})
	n := 0
	e.On("none", func() { n++ })
	e.On("any", func(msg any, topic, id string) { n++ })
	e.On("raw", func(msg json.RawMessage, topic string) { n += len(msg) })
	e.On("err", func(err error) { n++ })
	p := payload(`{"name":"gopher"}`)
	p.PayloadValue() // the payload caches its value
	var err error = &decodeError{}
	for _, c := range []struct {
		name string
		emit func()
	}{
		{"none", func() { e.Emit("none") }},
		{"any", func() { e.Emit("any", p, "topic", "id") }},
		{"raw", func() { e.Emit("raw", p, "topic") }},
		{"err", func() { e.Emit("err", err) }},
		{"nobody", func() { e.Emit("nobody", p) }},
	} {
		if a := testing.AllocsPerRun(100, c.emit); a != 0 {
			t.Errorf("Emit %s: %v allocs", c.name, a)
		}
	}
}
