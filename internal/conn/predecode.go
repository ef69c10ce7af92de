package conn

import (
	"encoding"
	"encoding/json"
	"reflect"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/socketipc/socketipc/message"
)

// Decoding ahead: the reader decodes a batch's payloads for the type their
// first decoding listener wants before it posts the batch, so that on two
// cores it decodes one batch while the loop delivers the one before.
// Delivery stays serial and ordered, and the loop never waits for the
// reader. A value decoded ahead is only a cache keyed by type: the first
// DecodePayload into that type (or the first PayloadValue, for any) takes
// it, and anything else decodes as it would have; listeners added or
// removed between the read and the delivery therefore get what they
// would have got.
//
// Memory: a batch takes a window from the read-ahead budget (or, without
// one, from the connection's own read-ahead) before decoding; a payload is
// decoded only if its worst case (decodeCost) fits in what is left of the
// window, and once decoded it is charged what it really holds (heldBy, an
// upper bound computed from the value). The rest of the window goes back
// before the batch is posted, and the charge when the batch is delivered.
// So values decoded ahead are part of docs/SECURITY.md's term A. A payload
// whose bound does not fit, or whose type has no bound (custom
// unmarshalers, recursive types, interfaces with methods), is decoded on
// delivery as before (term D).

// preDecodeWindow is the most one batch may hold in values decoded ahead.
const preDecodeWindow = 512 << 10

type preSlot struct {
	typ reflect.Type // what val was decoded into
	val any          // *typ, or for any the value itself; nil once taken
	err error
}

// preSlotSize is what one slot costs a batch.
const preSlotSize = int64(unsafe.Sizeof(preSlot{}))

var (
	anyType = reflect.TypeFor[any]()
	msgType = reflect.TypeFor[*Msg]()
)

// preDecode decodes ahead what is worth it in msgs, within a window, and
// returns what the batch now holds for it. It decodes only while another
// goroutine is delivering (the loop's, or another connection's reader) and
// stops as soon as none is, so the batch then runs at once (Deliver runs
// it on this goroutine when the loop is idle) and what is left of it is
// decoded on delivery. Handing a batch to an idle loop's goroutine to
// overlap with it would cost a wake-up per read, measured to cost more
// than it saves (docs/DESIGN.md).
func (c *Conn) preDecode(msgs []Msg) (held int64) {
	if c.cfg.DecodeType == nil || c.cfg.Transcoder != message.JSON || decodeAheadOff {
		return 0
	}
	var (
		slots  []preSlot
		window int64
		types  = aheadTypes{c: c}
	)
	for i := range msgs {
		if !c.cfg.Loop.Delivering() {
			break // nobody to overlap with: deliver now
		}
		m := &msgs[i]
		t, worst := types.of(m)
		if t == nil {
			continue
		}
		if slots == nil {
			if !c.takeWindow(preDecodeWindow) {
				return 0 // the budget is spent: decode on delivery
			}
			window = preDecodeWindow
			slots = make([]preSlot, len(msgs))
			held = int64(len(msgs)) * preSlotSize
		}
		if held+worst > window {
			continue
		}
		s := &slots[i]
		s.typ = t
		held += min(worst, s.decode(m.Payload)) // both bound it
		m.pre = s
		decodedAhead.Add(1)
	}
	if window == 0 {
		return 0
	}
	c.giveBackWindow(window - held)
	return held
}

// aheadTypes finds the type each message's payload may be decoded ahead
// into, asking DecodeType once per run of messages with the same topic
// (streams tend to repeat one). It calls DecodeType: the reader's alone.
type aheadTypes struct {
	c     *Conn
	topic *Topic
	typ   reflect.Type
	dc    decodeCost
}

// of returns the type m's payload may be decoded ahead into, and the most
// its value may hold (decodeCost); nil when it is not to be: a malformed
// frame, no listener decoding it, a type with no bound, or a worst case
// over half the window.
func (a *aheadTypes) of(m *Msg) (t reflect.Type, worst int64) {
	if m.Err != nil {
		return nil, 0
	}
	if m.Topic != a.topic {
		a.topic, a.typ = m.Topic, a.c.cfg.DecodeType(m.Topic)
		if t := a.typ; t == nil || t != anyType && msgType.AssignableTo(t) { // *Msg itself: nothing to decode
			a.typ = nil
		} else if a.dc = decodeCostOf(t); !a.dc.ok {
			a.typ = nil
		}
	}
	if a.typ == nil {
		return nil, 0
	}
	worst = a.dc.fixed + a.dc.perByte*int64(len(m.Payload))
	if worst > preDecodeWindow/2 {
		return nil, 0
	}
	return a.typ, worst
}

// decode decodes payload into a new value of s.typ (JSON: the only
// transcoder decoded ahead) and returns heldBy of it.
func (s *preSlot) decode(payload []byte) int64 {
	if s.typ == anyType {
		var v any
		s.err = message.JSON.Unmarshal(payload, &v)
		s.val = v
		return heldByAny(v)
	}
	ptr := reflect.New(s.typ)
	s.err = message.JSON.Unmarshal(payload, ptr.Interface())
	s.val = ptr.Interface()
	return heldBy(ptr)
}

// takeWindow sets window bytes aside for values decoded ahead, within the
// shared budget or the connection's own read-ahead, or reports that they
// would not fit.
func (c *Conn) takeWindow(window int64) bool {
	if b := c.cfg.ReadBudget; b != nil {
		return b.tryAcquire(window)
	}
	// Reading stops past ReadAhead, and one read adds at most a
	// reservation: the window stays within that.
	return c.inflight.Load()+window <= int64(c.cfg.ReadAhead)+readReservation
}

func (c *Conn) giveBackWindow(n int64) {
	if b := c.cfg.ReadBudget; b != nil {
		b.release(n)
	}
}

// take returns the value decoded ahead for t, once; ok is false when there
// is none (the caller decodes as usual).
func (m *Msg) take(t reflect.Type) (v any, err error, ok bool) {
	s := m.pre
	if s == nil || s.typ != t || s.val == nil && s.err == nil {
		return nil, nil, false
	}
	v, err = s.val, s.err
	s.val, s.err = nil, nil
	return v, err, true
}

// heldBy bounds what the heap holds for the memory v refers to (not v
// itself): every allocation counted at twice its size (size classes round
// up less), short strings at a whole 16-byte tiny block, shared memory
// once per reference.
func heldBy(v reflect.Value) int64 {
	switch v.Kind() {
	case reflect.String:
		return heldByString(v.String())
	case reflect.Pointer:
		if v.IsNil() {
			return 0
		}
		return 2*int64(v.Type().Elem().Size()) + 16 + heldBy(v.Elem())
	case reflect.Interface:
		if v.IsNil() {
			return 0
		}
		e := v.Elem()
		return 2*int64(e.Type().Size()) + 16 + heldBy(e)
	case reflect.Struct:
		var n int64
		for i := range v.NumField() {
			n += heldBy(v.Field(i))
		}
		return n
	case reflect.Array:
		var n int64
		for i := range v.Len() {
			n += heldBy(v.Index(i))
		}
		return n
	case reflect.Slice:
		if v.IsNil() {
			return 0
		}
		n := 2*int64(v.Cap())*int64(v.Type().Elem().Size()) + 16
		for i := range v.Len() {
			n += heldBy(v.Index(i))
		}
		return n
	case reflect.Map:
		slot := int64(v.Type().Key().Size() + v.Type().Elem().Size() + 1)
		n := mapHeld(v.Len(), v.IsNil(), slot)
		for it := v.MapRange(); it.Next(); {
			n += heldBy(it.Key()) + heldBy(it.Value())
		}
		return n
	}
	return 0
}

// heldByAny is heldBy of an any holding v, without reflection for what
// decoding into any makes (maps, slices, strings, numbers, booleans): the
// same figure, at a fraction of the cost (TestHeldByAnyIsHeldBy).
func heldByAny(v any) int64 {
	const iface = 16 // an any's size, as an element, key or value
	switch x := v.(type) {
	case nil:
		return 0
	case string:
		return 2*iface + 16 + heldByString(x)
	case float64:
		return 2*8 + 16
	case bool:
		return 2*1 + 16
	case []any:
		if x == nil {
			return 2*24 + 16
		}
		n := int64(2*24+16) + 2*int64(cap(x))*iface + 16
		for _, e := range x {
			n += heldByAny(e)
		}
		return n
	case map[string]any:
		n := int64(2*8+16) + mapHeld(len(x), x == nil, 16+iface+1)
		for k, e := range x {
			n += heldByString(k) + heldByAny(e)
		}
		return n
	}
	return heldByOther(v)
}

// heldByOther is heldByAny's reflective case, apart so that v is moved to
// the heap only there.
func heldByOther(v any) int64 { return heldBy(reflect.ValueOf(&v).Elem()) }

func heldByString(s string) int64 {
	if n := int64(len(s)); n > 0 {
		return max(16, 2*n)
	}
	return 0
}

// mapHeld is what a map of k entries of slot bytes each holds itself: its
// header when empty, one group of 8 slots up to 8 entries, beyond that
// tables at least 7/16 full.
func mapHeld(k int, isNil bool, slot int64) int64 {
	switch {
	case isNil:
		return 0
	case k > 8:
		return 2 * (128 + (3*int64(k)+8)*slot)
	case k > 0:
		return 2 * (64 + 8*slot + 8)
	}
	return 2 * 64
}

// decodeCost bounds what a JSON payload of n bytes, decoded into a new
// value of one type, makes the heap hold: fixed + perByte × n. ok is
// false for types with no bound worked out (custom unmarshalers,
// recursive types, interfaces with methods, maps with keys other than
// strings and integers): those are never decoded ahead.
//
// The bound counts every allocation as if the size class rounded it up
// to twice its size, and every element as costing its encoding's minimum:
// a number, or `{}`, `[]`, `""` and a separator. The test
// TestDecodeCostBoundsHeldMemory decodes the worst shapes for each rule.
type decodeCost struct {
	fixed, perByte int64
	ok             bool
}

var decodeCosts sync.Map // reflect.Type → decodeCost

func decodeCostOf(t reflect.Type) decodeCost {
	if dc, ok := decodeCosts.Load(t); ok {
		return dc.(decodeCost)
	}
	perByte, ok := perByteCost(t, map[reflect.Type]bool{})
	dc := decodeCost{fixed: 2*int64(t.Size()) + 64, perByte: perByte, ok: ok}
	decodeCosts.Store(t, dc)
	return dc
}

// anyDecodeFactor: a payload decoded into an any value holds at most this
// many times its size (docs/SECURITY.md term D; message
// TestDecodeAmplification checks the same figure).
const anyDecodeFactor = 80

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// perByteCost is the most a value of type t holds per byte of its
// encoding, beyond t's own size (counted by its container).
func perByteCost(t reflect.Type, visiting map[reflect.Type]bool) (int64, bool) {
	if t.Implements(jsonUnmarshaler) || t.Implements(textUnmarshaler) ||
		reflect.PointerTo(t).Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return 0, false
	}
	if visiting[t] {
		return 0, false // recursive
	}
	visiting[t] = true
	defer delete(visiting, t)
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return 0, true
	case reflect.String:
		// A string of k bytes needs k+2 bytes and a separator; a short
		// one may keep a 16-byte tiny block alive.
		return 8, true
	case reflect.Interface:
		if t.NumMethod() != 0 {
			return 0, false
		}
		return anyDecodeFactor, true
	case reflect.Array:
		return perByteCost(t.Elem(), visiting)
	case reflect.Struct:
		var most int64
		for i := range t.NumField() {
			c, ok := perByteCost(t.Field(i).Type, visiting)
			if !ok {
				return 0, false
			}
			most = max(most, c)
		}
		return most, true
	case reflect.Pointer:
		// One allocation per pointer, for at least one byte of input.
		c, ok := perByteCost(t.Elem(), visiting)
		return 2*(int64(t.Elem().Size())+16) + c, ok
	case reflect.Slice:
		// An element takes at least two bytes with its separator, and
		// growth leaves up to twice the elements' room.
		c, ok := perByteCost(t.Elem(), visiting)
		return 2*int64(t.Elem().Size()) + 16 + c, ok
	case reflect.Map:
		switch t.Key().Kind() {
		case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		default:
			return 0, false
		}
		kc, ok := perByteCost(t.Key(), visiting)
		if !ok {
			return 0, false
		}
		vc, ok := perByteCost(t.Elem(), visiting)
		if !ok {
			return 0, false
		}
		// The smallest map, `{}` and a separator (3 bytes), holds its
		// header; one entry (7 bytes) a group of 8 slots; more entries
		// (5 bytes each) at most twice their slots.
		slot := int64(t.Key().Size() + t.Elem().Size() + 1)
		return max(2*(64+8*slot+8)/3, 4*slot) + kc + vc, true
	}
	return 0, false
}

// decodedAhead counts the payloads decoded ahead, for tests;
// decodeAheadOff turns decoding ahead off, for benchmarks that compare.
var (
	decodedAhead   atomic.Int64
	decodeAheadOff bool
)

// DecodeAs decodes m's payload into *v, a zero T, as DecodePayload does
// for a pointer, without reflection: it takes the value the reader decoded
// ahead for T, if any, else decodes with the connection's transcoder.
func DecodeAs[T any](m *Msg, v *T) error {
	if ahead, err, ok := m.take(reflect.TypeFor[T]()); ok && err == nil {
		if p, isPtr := ahead.(*T); isPtr {
			*v = *p
		} else { // T is an interface type: the slot holds the value itself
			*v, _ = ahead.(T)
		}
		return nil
	}
	return m.from.transcoder.Unmarshal(m.Payload, v)
}
