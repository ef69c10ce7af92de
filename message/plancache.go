package message

import (
	"reflect"
	"sync"
	"sync/atomic"
)

// planCache holds the per-type plans of the typed decoder or encoder, each
// made once. While plans are being made they sit in a building map, so a
// recursive type finds its own plan, unfinished, instead of recursing
// without end; they are published together once the outermost is done.
type planCache[P any] struct {
	done sync.Map // reflect.Type -> *planEntry[P]
	// last is the plan most recently looked up: a program usually sends or
	// receives one type over and over, and comparing a type is cheaper
	// than hashing it.
	last atomic.Pointer[planEntry[P]]
}

type planEntry[P any] struct {
	t reflect.Type
	p P
}

// get returns t's plan, making it (and the plans it needs) with build on
// first use.
func (c *planCache[P]) get(t reflect.Type, build func(reflect.Type, map[reflect.Type]P) P) P {
	if e := c.last.Load(); e != nil && e.t == t {
		return e.p
	}
	if e, ok := c.done.Load(t); ok {
		c.last.Store(e.(*planEntry[P]))
		return e.(*planEntry[P]).p
	}
	building := map[reflect.Type]P{}
	p := build(t, building)
	for bt, bp := range building {
		c.done.LoadOrStore(bt, &planEntry[P]{bt, bp})
	}
	return p
}

// lookup returns t's plan if it is made, or being made in building.
func (c *planCache[P]) lookup(t reflect.Type, building map[reflect.Type]P) (P, bool) {
	if e, ok := c.done.Load(t); ok {
		return e.(*planEntry[P]).p, true
	}
	p, ok := building[t]
	return p, ok
}
