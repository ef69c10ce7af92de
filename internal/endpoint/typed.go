package endpoint

import (
	"encoding/json"
	"maps"
	"reflect"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/socketipc/socketipc/emitter"
	"github.com/socketipc/socketipc/internal/conn"
	"github.com/socketipc/socketipc/message"
)

// typedHints tells the reader which type typed listeners (OnMessage) of an
// event decode into, so that it can decode ahead for them as it does for
// the emitter's listeners. Like emitter.DecodeType, it is a hint: the
// removal of a typed listener (by its Handle) is not seen, and its entry
// costs at worst a decode ahead that nobody takes.
type typedHints struct {
	mu    sync.Mutex
	types atomic.Pointer[map[string]reflect.Type] // copy-on-write, read lock-free by readers
}

func (h *typedHints) get(event string) reflect.Type {
	if m := h.types.Load(); m != nil {
		return (*m)[event]
	}
	return nil
}

// add records a typed listener of event (the first one's type stays).
func (h *typedHints) add(event string, t reflect.Type) {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.types.Load()
	if old != nil && (*old)[event] != nil {
		return
	}
	types := make(map[string]reflect.Type)
	if old != nil {
		maps.Copy(types, *old)
	}
	types[event] = t
	h.types.Store(&types)
}

// OnMessage registers fn for the messages of topic, their payload decoded
// into a T. It is called directly, with no reflection: the emitter sees a
// json.RawMessage listener (which decodes nothing), and the payload is
// decoded here, taking what the reader decoded ahead for T when the raw
// bytes are those of the message being delivered. A payload that does not
// fit T is a *message.PayloadTypeError on "error", and fn is skipped.
func OnMessage[T any](e *Endpoint, topic string, fn func(msg T, clientID string)) emitter.Handle {
	if e == nil {
		return emitter.Handle{}
	}
	if fn == nil {
		panic("socketipc: OnMessage with a nil func")
	}
	event := "message." + topic
	typ := reflect.TypeFor[T]()
	e.typed.add(event, typ)
	// Decoding into a fresh variable puts it on the heap for every message
	// (the decoder gets its address through an interface). A large T, with
	// the JSON transcoder (which keeps nothing it decodes into), is decoded
	// into a pooled scratch value instead and copied out, so that the
	// listener's copy stays on the stack: an allocation less per message.
	var scratch *sync.Pool
	if t := e.base.Transcoder; unsafe.Sizeof(*new(T)) >= minScratchSize && (t == nil || t == message.JSON) {
		scratch = &sync.Pool{New: func() any { return new(T) }}
	}
	call := func(raw json.RawMessage, clientID string) {
		if scratch != nil {
			sp := scratch.Get().(*T)
			err := decodeInto(e, raw, sp)
			v := *sp
			var zero T
			*sp = zero // the decoder needs a zero target, and the pool keeps no references
			scratch.Put(sp)
			if err != nil {
				e.emitError(&message.PayloadTypeError{Event: event, Topic: topic, Type: typ, ClientID: clientID, Err: err})
				return
			}
			fn(v, clientID)
			return
		}
		var v T
		if err := decodeInto(e, raw, &v); err != nil {
			e.emitError(&message.PayloadTypeError{Event: event, Topic: topic, Type: typ, ClientID: clientID, Err: err})
			return
		}
		fn(v, clientID)
	}
	if e.withID {
		return e.em.On(event, call)
	}
	return e.em.On(event, func(raw json.RawMessage) { call(raw, "") })
}

// decodeInto decodes raw into *v: through the message being delivered
// when raw is its payload (so a value decoded ahead is used), else (an
// application's Emit of a message event) with the transcoder.
// minScratchSize: smaller values cost less to allocate than to pool.
const minScratchSize = 64

func decodeInto[T any](e *Endpoint, raw json.RawMessage, v *T) error {
	if m := e.current; m != nil && sameBytes(m.PayloadBytes(), raw) {
		return conn.DecodeAs(m, v)
	}
	return e.base.Transcoder.Unmarshal(raw, v)
}

func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}
