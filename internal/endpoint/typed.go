package endpoint

import (
	"reflect"
	"sync"
	"sync/atomic"
)

// typedHints tells the reader which type typed listeners (OnMessage) of an
// event decode into, so that it can decode ahead for them as it does for
// the emitter's listeners. Like emitter.DecodeType, it is a hint: a stale
// entry costs a decode that nobody takes, nothing else.
type typedHints struct {
	mu     sync.Mutex
	counts map[string]map[reflect.Type]int
	types  atomic.Pointer[map[string]reflect.Type] // read by readers, lock-free
}

func (h *typedHints) get(event string) reflect.Type {
	if m := h.types.Load(); m != nil {
		return (*m)[event]
	}
	return nil
}

// add records a typed listener of event; the func it returns removes it.
func (h *typedHints) add(event string, t reflect.Type) func() {
	h.change(event, t, 1)
	var once sync.Once
	return func() { once.Do(func() { h.change(event, t, -1) }) }
}

func (h *typedHints) change(event string, t reflect.Type, delta int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.counts == nil {
		h.counts = make(map[string]map[reflect.Type]int)
	}
	byType := h.counts[event]
	if byType == nil {
		byType = make(map[reflect.Type]int)
		h.counts[event] = byType
	}
	byType[t] += delta
	if byType[t] <= 0 {
		delete(byType, t)
	}
	if len(byType) == 0 {
		delete(h.counts, event)
	}
	types := make(map[string]reflect.Type, len(h.counts))
	for ev, byType := range h.counts {
		for t := range byType {
			types[ev] = t // any one of them: it is a hint
			break
		}
	}
	h.types.Store(&types)
}
