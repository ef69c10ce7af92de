package emitter

import (
	"encoding/json"
	"reflect"
	"testing"
)

type point struct{ X, Y int }

// DecodeType names what the first listener that decodes an argument wants,
// skipping listeners that take the bytes or nothing.
func TestDecodeType(t *testing.T) {
	for _, c := range []struct {
		name      string
		listeners []any
		arg       int
		want      reflect.Type
	}{
		{"none", nil, 0, nil},
		{"no parameters", []any{func() {}}, 0, nil},
		{"raw then struct", []any{func(json.RawMessage) {}, func([]byte) {}, func(point) {}}, 0, reflect.TypeFor[point]()},
		{"any first", []any{func(any, string) {}, func(point) {}}, 0, reflect.TypeFor[any]()},
		{"any's second argument", []any{func(any, string) {}}, 1, reflect.TypeFor[string]()},
		{"beyond the parameters", []any{func(any, string) {}}, 2, nil},
		{"string", []any{func(string) {}}, 0, reflect.TypeFor[string]()},
		{"error", []any{func(error) {}}, 0, reflect.TypeFor[error]()},
		{"variadic", []any{func(...point) {}}, 1, reflect.TypeFor[point]()},
		{"raw's second argument", []any{func(json.RawMessage, string) {}}, 1, reflect.TypeFor[string]()},
	} {
		e := New(Options{})
		for _, l := range c.listeners {
			e.On("ev", l)
		}
		if got := DecodeType(e, "ev", c.arg); got != c.want {
			t.Errorf("%s: DecodeType = %v, want %v", c.name, got, c.want)
		}
	}
	// Removing the listener changes the answer.
	e := New(Options{})
	h := e.On("ev", func(point) {})
	h.Off()
	if got := DecodeType(e, "ev", 0); got != nil {
		t.Errorf("after Off: %v, want nil", got)
	}
}

func TestDecodeTypeAllocatesNothing(t *testing.T) {
	e := New(Options{})
	e.On("ev", func(json.RawMessage) {})
	e.On("ev", func(point, string) {})
	if n := testing.AllocsPerRun(100, func() { DecodeType(e, "ev", 0) }); n != 0 {
		t.Errorf("%v allocations per call", n)
	}
}
