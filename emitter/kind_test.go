package emitter

import (
	"encoding/json"
	"testing"
)

type namedAnyTopic func(any, string)

// The common shapes are classified for a direct call; the rest for reflect.
func TestListenerKinds(t *testing.T) {
	for _, c := range []struct {
		fn   any
		want kind
	}{
		{func() {}, kindNone},
		{func(any) {}, kindAny},
		{func(any, string) {}, kindAnyS},
		{func(any, string, string) {}, kindAnySS},
		{func(json.RawMessage) {}, kindRaw},
		{func(json.RawMessage, string) {}, kindRawS},
		{func(json.RawMessage, string, string) {}, kindRawSS},
		{func(string) {}, kindS},
		{func(string, string) {}, kindSS},
		{func(error) {}, kindErr},
		{namedAnyTopic(func(any, string) {}), kindAnyS},
		{func([]byte) {}, kindReflect},
		{func(int) {}, kindReflect},
		{func(...any) {}, kindReflect},
		{func() error { return nil }, kindReflect},
	} {
		if l := newListener(nil, "x", c.fn, false); l.kind != c.want {
			t.Errorf("%T: kind %d, want %d", c.fn, l.kind, c.want)
		}
	}
}
