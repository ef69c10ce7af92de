// Package emitter is a string-keyed event emitter with the semantics of
// Node's EventEmitter, for Go funcs: listeners of any func type, called
// synchronously in registration order by Emit. It is the event core of
// socketipc's Server and Client, and usable on its own.
//
// # Listeners
//
// A listener is any non-nil func. It is called on the goroutine that calls
// Emit, in registration order (Prepend and PrependOnce put it first). Its
// results, if any, are ignored. It may declare fewer parameters than the
// event carries (the trailing arguments are dropped, as in JavaScript) or,
// for an event not declared in Options.Events, more (the missing ones get
// zero values). A variadic listener receives all
// the arguments left over after its fixed parameters, each converted to the
// element type; func(args ...any) therefore sees every argument.
//
// Each argument is converted to its parameter's type T:
//
//   - a nil or missing argument gives T's zero value;
//   - a [Payload] gives: for T exactly any, PayloadValue(); for
//     json.RawMessage or []byte, PayloadBytes() (shared by all listeners: do
//     not modify it); for a T the payload's own type is assignable to (its
//     concrete type, or an interface it implements such as Payload), the
//     payload itself (or, if it has a method Retained() any, what that
//     returns: a copy to keep, from a payload whose owner reuses it once
//     delivered); for any other T, a new T filled by DecodePayload;
//   - any other argument is passed if it is assignable to T.
//
// If PayloadValue or DecodePayload fails, or an argument is not assignable
// (an [*ArgumentError]), that listener alone is skipped and the error is
// emitted as an "error" event. A panic in a listener is recovered and emitted
// as an "error" event carrying a [*PanicError]. A failure inside an "error"
// listener, and an "error" event that has no listener, go to the Logger
// instead: an error is never silent, and never a panic.
//
// # Checks at registration
//
// An Emitter made with Options.Events knows the events its owner emits
// and their arguments. Registering a listener for a declared event (On,
// Once, Prepend, PrependOnce) panics at once, as registering a non-func
// does, when the listener could never receive the event's arguments: it
// has more parameters than the event has arguments, or a parameter that no
// value of the argument's declared type can be assigned to (func(int) for
// a *Conn, func(string) for an error). What can receive some value stays
// legal: fewer parameters, any, an interface the argument's type
// implements, a concrete type implementing an interface argument (one
// kind of error), and any type at all for a [Payload] argument
// ([PayloadType]), which decodes into it at delivery. The panic names the
// event, the listener's type and the signature it should have. Events not
// declared (application events, passed to Emit) are not checked.
//
// A typo in an event name must not fail silently, as a listener that never
// runs would: registering a name that no declaration covers but that is
// close to a declared one ("mesage", "Message", "conection",
// "message_hello" where "message.*" is declared) panics too, with "did you
// mean" the declared name. Options.Events gives the exact rule; names far
// from every declared one are application events and are accepted.
//
// # Emit and concurrency
//
// All methods are safe for concurrent use. No lock is held while a listener
// runs, so a listener may call any method, Emit included. The listener list
// of an event is fixed when an Emit starts: a listener added during that emit
// is not called by it, and a listener removed during it by an earlier
// listener is still called (as Node does), with one exception that gives
// Once its meaning under concurrency: a Once listener runs at most once,
// and is never run after its removal (Off, RemoveAllListeners) has reported
// it removed: when Off is called on a Once registration, exactly one of "the
// listener ran" and "Off returned true" happens.
//
// The common listener shapes — func(), func(any), func(any, string),
// func(any, string, string), func(json.RawMessage), func(json.RawMessage,
// string), func(json.RawMessage, string, string), func(string),
// func(string, string) and func(error), or named func types with those
// underlying types — are called directly, without reflection and without
// allocating; any other shape goes through reflect.Value.Call with its
// parameter types worked out at registration.
//
// The zero Emitter is ready to use (with slog.Default as its Logger); an
// Emitter must not be copied after first use.
package emitter

import (
	"cmp"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// ErrorEvent is the name of the event that carries errors.
const ErrorEvent = "error"

// Options configure an Emitter. The zero value works.
type Options struct {
	// Logger receives "error" events that no listener handles and failures
	// inside "error" listeners. Nil means slog.Default() (looked up at the
	// time of logging).
	Logger *slog.Logger
	// Events declares the events the Emitter's owner emits and their
	// arguments. With it, registering a listener for a declared event
	// panics when the listener's parameters could never receive the
	// event's arguments; events not declared are accepted as before
	// (application events), unless the name looks like a typo of a
	// declared one:
	//   - it equals a declared name ignoring case ("Message"), or starts
	//     with the same letter and is within one edit of it (two for a
	//     name longer than 6 bytes), ignoring case ("mesage", "conection";
	//     an edit inserts, deletes, replaces or swaps adjacent bytes);
	//   - for a family such as "message.*": its part before the first byte
	//     that is not a letter or digit is the family's stem ("message")
	//     or a typo of it as above, with another separator or stem
	//     ("message_hello", "Message.hello", "mesage.hello");
	//   - it is a family's prefix alone ("message."), which names nothing.
	// Registering such a name panics, saying which declared name was meant.
	// Names far from every declared one ("submit", "jobDone", "train") are
	// application events. See the package doc, "Checks at registration".
	Events []Event
}

// Emitter holds listeners by event name.
type Emitter struct {
	mu     sync.RWMutex
	events map[string]eventEntry // listener slices are copy-on-write
	// lists is an immutable copy of events' listener slices, republished
	// on every change, so Emit (per message, on the hot path) takes no lock.
	lists  atomic.Pointer[map[string][]*listener]
	gen    atomic.Uint64 // bumped after each republication of lists (see Generation)
	seq    uint64        // orders EventNames by first registration
	logger *slog.Logger
	known  *eventTable // Options.Events; nil: no checks
}

type eventEntry struct {
	listeners []*listener // never modified in place: replaced on change
	seq       uint64
}

// New returns an Emitter. It panics if opts.Events declares an argument
// without a type.
func New(opts Options) *Emitter {
	return &Emitter{logger: opts.Logger, known: newEventTable(opts.Events)}
}

// Handle identifies one registration; it removes exactly that one, even when
// several registrations share the same func (or closures of one literal).
// The zero Handle refers to nothing.
type Handle struct {
	l *listener
}

// Off removes the listener; it reports whether it was still registered.
// For a Once listener, true also means it has not run and never will.
func (h Handle) Off() bool {
	if h.l == nil {
		return false
	}
	return h.l.em.remove(h.l, true)
}

// retainable is a Payload whose owner reuses it once its event has been
// delivered (a connection recycling its messages): a listener that takes
// the payload itself gets what Retained returns, a copy it may keep.
type retainable interface{ Retained() any }

// Payload is an event argument whose Go form each listener chooses by its
// parameter type: any gets PayloadValue, json.RawMessage gets PayloadBytes,
// any other type T gets DecodePayload into a new T. See the package doc.
type Payload interface {
	// PayloadBytes returns the encoded payload.
	PayloadBytes() []byte
	// PayloadValue returns the payload as a plain value (for JSON:
	// map[string]any, []any, float64, string, bool or nil). It is called
	// once per listener that wants it, so implementations should cache it.
	PayloadValue() (any, error)
	// DecodePayload decodes the payload into ptr, a non-nil pointer, for
	// a listener of event (which its error should name: a payload that
	// does not fit a listener's type is the listener's concern, not the
	// sender's).
	DecodePayload(event string, ptr any) error
}

// PanicError is emitted on "error" when a listener panics.
type PanicError struct {
	Event string // the event whose listener panicked
	Value any    // the value passed to panic
	Stack []byte // the panicking goroutine's stack, from debug.Stack
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("emitter: listener for %q panicked: %v", e.Event, e.Value)
}

// Unwrap returns the panic value if it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// ArgumentError is emitted on "error" when an event argument cannot be
// passed to a listener's parameter; that listener is skipped.
type ArgumentError struct {
	Event string       // the event being emitted
	Index int          // the argument's position, from 0
	Want  reflect.Type // the parameter's type
	Got   reflect.Type // the argument's type
}

func (e *ArgumentError) Error() string {
	return fmt.Sprintf("emitter: listener for %q: argument %d is %v, not assignable to parameter type %v",
		e.Event, e.Index, e.Got, e.Want)
}

// kind says how a listener is called: one of the direct shapes, or reflect.
type kind uint8

const (
	kindReflect kind = iota
	kindNone         // func()
	kindAny          // func(any)
	kindAnyS         // func(any, string)
	kindAnySS        // func(any, string, string)
	kindRaw          // func(json.RawMessage)
	kindRawS         // func(json.RawMessage, string)
	kindRawSS        // func(json.RawMessage, string, string)
	kindS            // func(string)
	kindSS           // func(string, string)
	kindErr          // func(error)
)

// directTypes lists the func types of the direct kinds, indexed by kind.
var directTypes = [...]reflect.Type{
	kindNone:  reflect.TypeFor[func()](),
	kindAny:   reflect.TypeFor[func(any)](),
	kindAnyS:  reflect.TypeFor[func(any, string)](),
	kindAnySS: reflect.TypeFor[func(any, string, string)](),
	kindRaw:   reflect.TypeFor[func(json.RawMessage)](),
	kindRawS:  reflect.TypeFor[func(json.RawMessage, string)](),
	kindRawSS: reflect.TypeFor[func(json.RawMessage, string, string)](),
	kindS:     reflect.TypeFor[func(string)](),
	kindSS:    reflect.TypeFor[func(string, string)](),
	kindErr:   reflect.TypeFor[func(error)](),
}

var (
	anyType   = reflect.TypeFor[any]()
	rawType   = reflect.TypeFor[json.RawMessage]()
	bytesType = reflect.TypeFor[[]byte]()
	strType   = reflect.TypeFor[string]()
	errType   = reflect.TypeFor[error]()
)

type listener struct {
	em    *Emitter
	event string
	orig  any // the func as registered
	fn    any // for direct kinds: orig converted to the kind's func type
	kind  kind
	once  bool
	fired atomic.Bool // Once only: claimed by the one emit that runs it, or by removal

	// reflect kind only
	rv       reflect.Value
	in       []reflect.Type // fixed parameter types
	variadic reflect.Type   // element type of the variadic parameter, or nil
}

func newListener(e *Emitter, event string, fn any, once bool) *listener {
	if fn == nil {
		panic(fmt.Sprintf("emitter: listener for %q must be a func, got %T", event, fn))
	}
	v := reflect.ValueOf(fn)
	t := v.Type()
	if t.Kind() != reflect.Func {
		panic(fmt.Sprintf("emitter: listener for %q must be a func, got %T", event, fn))
	}
	if v.IsNil() {
		panic(fmt.Sprintf("emitter: listener for %q must be a non-nil func, got a nil %T", event, fn))
	}
	l := &listener{em: e, event: event, orig: fn, fn: fn, once: once}
	for k, dt := range directTypes {
		if dt != nil && t.ConvertibleTo(dt) { // for funcs: identical underlying types
			l.kind = kind(k)
			if t != dt {
				l.fn = v.Convert(dt).Interface()
			}
			return l
		}
	}
	l.kind = kindReflect
	l.rv = v
	n := t.NumIn()
	if t.IsVariadic() {
		n--
		l.variadic = t.In(n).Elem()
	}
	l.in = make([]reflect.Type, n)
	for i := range n {
		l.in[i] = t.In(i)
	}
	return l
}

// On adds listener at the end of event's listener list.
func (e *Emitter) On(event string, listener any) Handle {
	return e.add(event, listener, false, false)
}

// Once adds a listener that is removed before its first call; it runs at
// most once, however many emits race for it.
func (e *Emitter) Once(event string, listener any) Handle {
	return e.add(event, listener, true, false)
}

// Prepend adds listener at the front of event's listener list.
func (e *Emitter) Prepend(event string, listener any) Handle {
	return e.add(event, listener, false, true)
}

// PrependOnce adds a Once listener at the front of event's listener list.
func (e *Emitter) PrependOnce(event string, listener any) Handle {
	return e.add(event, listener, true, true)
}

func (e *Emitter) add(event string, fn any, once, prepend bool) Handle {
	l := newListener(e, event, fn, once)
	e.checkListener(event, fn)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.events == nil {
		e.events = make(map[string]eventEntry)
	}
	ent, ok := e.events[event]
	if !ok {
		e.seq++
		ent.seq = e.seq
	}
	old := ent.listeners
	ls := make([]*listener, 0, len(old)+1)
	if prepend {
		ls = append(append(ls, l), old...)
	} else {
		ls = append(append(ls, old...), l)
	}
	ent.listeners = ls
	e.events[event] = ent
	e.publishLocked()
	return Handle{l}
}

// checkListener panics when fn, a func, can never be a listener of event.
func (e *Emitter) checkListener(event string, fn any) {
	if e.known == nil {
		return
	}
	if ev := e.known.lookup(event); ev != nil {
		ev.check(event, reflect.TypeOf(fn))
	} else {
		e.known.checkTypo(event)
	}
}

// publishLocked republishes the listener lists for Emit; e.mu is held.
func (e *Emitter) publishLocked() {
	lists := make(map[string][]*listener, len(e.events))
	for name, ent := range e.events {
		lists[name] = ent.listeners
	}
	e.lists.Store(&lists)
	e.gen.Add(1)
}

// Generation returns a number that changes whenever a listener is added
// or removed (after the change is visible to Emit), so that an owner can
// cache, per event, what DecodeType or ListenerCount told it, and ask
// again only when the number has changed. It is a function rather than a
// method so that types embedding an Emitter do not export it. It takes no
// lock and does not allocate.
func Generation(e *Emitter) uint64 { return e.gen.Load() }

// listenersOf is what an emit that starts now runs.
func (e *Emitter) listenersOf(event string) []*listener {
	if lists := e.lists.Load(); lists != nil {
		return (*lists)[event]
	}
	return nil
}

// Off removes the registration h; it reports whether it was still
// registered on e. For a Once listener, true also means it has not run and
// never will.
func (e *Emitter) Off(h Handle) bool {
	if h.l == nil || h.l.em != e {
		return false
	}
	return e.remove(h.l, true)
}

// remove takes l out of its event's list. With claim, a Once listener's
// flag is claimed first, so a removed Once listener never runs; without it
// (the emit that has claimed it), it is just removed.
func (e *Emitter) remove(l *listener, claim bool) bool {
	if claim && l.once && !l.fired.CompareAndSwap(false, true) {
		return false // already run (or being run), or already removed
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ent, ok := e.events[l.event]
	if !ok {
		return false
	}
	i := slices.Index(ent.listeners, l)
	if i < 0 {
		return false
	}
	if len(ent.listeners) == 1 {
		delete(e.events, l.event)
	} else {
		ls := make([]*listener, 0, len(ent.listeners)-1)
		ls = append(append(ls, ent.listeners[:i]...), ent.listeners[i+1:]...)
		ent.listeners = ls
		e.events[l.event] = ent
	}
	e.publishLocked()
	return true
}

// RemoveAllListeners removes every listener of the given events, or of all
// events when none is given. Removed Once listeners will not run.
func (e *Emitter) RemoveAllListeners(events ...string) {
	e.mu.Lock()
	var removed []eventEntry
	if len(events) == 0 {
		for _, ent := range e.events {
			removed = append(removed, ent)
		}
		e.events = nil
	} else {
		for _, ev := range events {
			if ent, ok := e.events[ev]; ok {
				removed = append(removed, ent)
				delete(e.events, ev)
			}
		}
	}
	e.publishLocked()
	e.mu.Unlock()
	for _, ent := range removed {
		for _, l := range ent.listeners {
			if l.once {
				l.fired.Store(true)
			}
		}
	}
}

// ListenerCount returns the number of listeners of event.
func (e *Emitter) ListenerCount(event string) int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return len(e.events[event].listeners)
}

// Listeners returns a copy of event's listeners, as registered, in the order
// Emit would call them.
func (e *Emitter) Listeners(event string) []any {
	e.mu.RLock()
	ls := e.events[event].listeners
	e.mu.RUnlock()
	out := make([]any, len(ls))
	for i, l := range ls {
		out[i] = l.orig
	}
	return out
}

// EventNames returns the names of the events that have listeners, in the
// order each first got one (since it last had none).
func (e *Emitter) EventNames() []string {
	type named struct {
		name string
		seq  uint64
	}
	e.mu.RLock()
	ns := make([]named, 0, len(e.events))
	for name, ent := range e.events {
		ns = append(ns, named{name, ent.seq})
	}
	e.mu.RUnlock()
	slices.SortFunc(ns, func(a, b named) int { return cmp.Compare(a.seq, b.seq) })
	names := make([]string, len(ns))
	for i, n := range ns {
		names[i] = n.name
	}
	return names
}

// Emit calls event's listeners with args, synchronously and in order, and
// reports whether the event had listeners. An "error" event without
// listeners is logged.
func (e *Emitter) Emit(event string, args ...any) bool {
	ls := e.listenersOf(event)
	if len(ls) == 0 {
		if event == ErrorEvent {
			e.logUnhandled(args)
		}
		return false
	}
	for _, l := range ls {
		if l.once {
			if !l.fired.CompareAndSwap(false, true) {
				continue
			}
			e.remove(l, false)
		}
		if err := e.call(l, event, args); err != nil {
			if event == ErrorEvent {
				e.logListenerFailure(err, args)
			} else {
				e.Emit(ErrorEvent, err)
			}
		}
	}
	return true
}

func (e *Emitter) log() *slog.Logger {
	if e.logger != nil {
		return e.logger
	}
	return slog.Default()
}

func (e *Emitter) logUnhandled(args []any) {
	var err any
	if len(args) > 0 {
		err = args[0]
	}
	attrs := []any{"err", err}
	if len(args) > 1 {
		attrs = append(attrs, "args", slices.Clone(args[1:]))
	}
	e.log().Error("socketipc: unhandled error event", attrs...)
}

func (e *Emitter) logListenerFailure(err error, args []any) {
	var handling any
	if len(args) > 0 {
		handling = args[0]
	}
	attrs := []any{"err", err, "handling", handling}
	if pe, ok := err.(*PanicError); ok {
		attrs = append(attrs, "stack", string(pe.Stack))
	}
	e.log().Error("socketipc: error listener failed", attrs...)
}

// call runs one listener, turning a panic into a *PanicError; the error is
// a panic, an argument error, or a payload's decode error.
func (e *Emitter) call(l *listener, event string, args []any) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Event: strings.Clone(event), Value: v, Stack: debug.Stack()}
		}
	}()
	switch l.kind {
	case kindNone:
		l.fn.(func())()
	case kindAny:
		a, err := argAny(args, 0)
		if err != nil {
			return err
		}
		l.fn.(func(any))(a)
	case kindAnyS:
		a, err := argAny(args, 0)
		if err != nil {
			return err
		}
		s1, err := argString(event, args, 1)
		if err != nil {
			return err
		}
		l.fn.(func(any, string))(a, s1)
	case kindAnySS:
		a, err := argAny(args, 0)
		if err != nil {
			return err
		}
		s1, err := argString(event, args, 1)
		if err != nil {
			return err
		}
		s2, err := argString(event, args, 2)
		if err != nil {
			return err
		}
		l.fn.(func(any, string, string))(a, s1, s2)
	case kindRaw:
		r, err := argRaw(event, args, 0)
		if err != nil {
			return err
		}
		l.fn.(func(json.RawMessage))(r)
	case kindRawS:
		r, err := argRaw(event, args, 0)
		if err != nil {
			return err
		}
		s1, err := argString(event, args, 1)
		if err != nil {
			return err
		}
		l.fn.(func(json.RawMessage, string))(r, s1)
	case kindRawSS:
		r, err := argRaw(event, args, 0)
		if err != nil {
			return err
		}
		s1, err := argString(event, args, 1)
		if err != nil {
			return err
		}
		s2, err := argString(event, args, 2)
		if err != nil {
			return err
		}
		l.fn.(func(json.RawMessage, string, string))(r, s1, s2)
	case kindS:
		s0, err := argString(event, args, 0)
		if err != nil {
			return err
		}
		l.fn.(func(string))(s0)
	case kindSS:
		s0, err := argString(event, args, 0)
		if err != nil {
			return err
		}
		s1, err := argString(event, args, 1)
		if err != nil {
			return err
		}
		l.fn.(func(string, string))(s0, s1)
	case kindErr:
		ev, err := argError(event, args, 0)
		if err != nil {
			return err
		}
		l.fn.(func(error))(ev)
	default:
		return l.callReflect(event, args)
	}
	return nil
}

func argAny(args []any, i int) (any, error) {
	if i >= len(args) {
		return nil, nil
	}
	if p, ok := args[i].(Payload); ok {
		return p.PayloadValue()
	}
	return args[i], nil
}

func argRaw(event string, args []any, i int) (json.RawMessage, error) {
	if i >= len(args) {
		return nil, nil
	}
	switch a := args[i].(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		return a, nil
	case []byte:
		return a, nil
	case Payload:
		return a.PayloadBytes(), nil
	default:
		return nil, newArgumentError(event, i, rawType, a)
	}
}

func argString(event string, args []any, i int) (string, error) {
	if i >= len(args) {
		return "", nil
	}
	switch a := args[i].(type) {
	case nil:
		return "", nil
	case string:
		return a, nil
	case Payload:
		var s string
		err := a.DecodePayload(event, &s)
		return s, err
	default:
		return "", newArgumentError(event, i, strType, a)
	}
}

func argError(event string, args []any, i int) (error, error) {
	if i >= len(args) {
		return nil, nil
	}
	switch a := args[i].(type) {
	case nil:
		return nil, nil
	case error:
		return a, nil
	case Payload:
		var ev error
		err := a.DecodePayload(event, &ev)
		return ev, err
	default:
		return nil, newArgumentError(event, i, errType, a)
	}
}

func newArgumentError(event string, i int, want reflect.Type, got any) error {
	return &ArgumentError{Event: strings.Clone(event), Index: i, Want: want, Got: reflect.TypeOf(got)}
}

func (l *listener) callReflect(event string, args []any) error {
	n := len(l.in)
	total := n
	if l.variadic != nil && len(args) > n {
		total = len(args)
	}
	var buf [4]reflect.Value
	var in []reflect.Value
	if total <= len(buf) {
		in = buf[:total]
	} else {
		in = make([]reflect.Value, total)
	}
	for i := range in {
		t := l.variadic
		if i < n {
			t = l.in[i]
		}
		var a any
		if i < len(args) {
			a = args[i]
		}
		v, err := convertArg(event, i, t, a)
		if err != nil {
			return err
		}
		in[i] = v
	}
	l.rv.Call(in)
	return nil
}

func convertArg(event string, i int, t reflect.Type, a any) (reflect.Value, error) {
	if a == nil {
		return reflect.Zero(t), nil
	}
	at := reflect.TypeOf(a)
	if p, ok := a.(Payload); ok {
		switch t {
		case anyType:
			v, err := p.PayloadValue()
			if err != nil {
				return reflect.Value{}, err
			}
			if v == nil {
				return reflect.Zero(t), nil
			}
			return reflect.ValueOf(v), nil
		case rawType:
			return reflect.ValueOf(json.RawMessage(p.PayloadBytes())), nil
		case bytesType:
			return reflect.ValueOf(p.PayloadBytes()), nil
		}
		if at.AssignableTo(t) {
			if r, ok := a.(retainable); ok {
				a = r.Retained()
			}
			return reflect.ValueOf(a), nil
		}
		ptr := reflect.New(t)
		if err := p.DecodePayload(event, ptr.Interface()); err != nil {
			return reflect.Value{}, err
		}
		return ptr.Elem(), nil
	}
	if at.AssignableTo(t) {
		return reflect.ValueOf(a), nil
	}
	return reflect.Value{}, &ArgumentError{Event: strings.Clone(event), Index: i, Want: t, Got: at}
}

// DecodeType returns the type into which the first listener of event that
// decodes its argument arg from a [Payload] wants it: any when it calls
// PayloadValue, or the T that DecodePayload fills (string for the direct
// string shapes). It is nil when no listener decodes that argument
// (json.RawMessage, []byte and func() listeners don't). A connection
// reader uses it to decode a payload ahead of its delivery; the answer is
// a hint, true of the listeners registered when it is asked. It is a
// function rather than a method so that types embedding an Emitter do not
// export it. It takes no lock and does not allocate.
func DecodeType(e *Emitter, event string, arg int) reflect.Type {
	for _, l := range e.listenersOf(event) {
		if t := l.decodeType(arg); t != nil {
			return t
		}
	}
	return nil
}

// decodeType is the type l decodes argument i into, or nil.
func (l *listener) decodeType(i int) reflect.Type {
	switch l.kind {
	case kindAny, kindAnyS, kindAnySS:
		if i == 0 {
			return anyType
		}
		if i <= int(l.kind-kindAny) {
			return strType
		}
	case kindRawS, kindRawSS:
		if i >= 1 && i <= int(l.kind-kindRaw) {
			return strType
		}
	case kindS, kindSS:
		if i <= int(l.kind-kindS) {
			return strType
		}
	case kindErr:
		if i == 0 {
			return errType
		}
	case kindReflect:
		t := l.variadic
		if i < len(l.in) {
			t = l.in[i]
		}
		if t != nil && t != rawType && t != bytesType {
			return t
		}
	}
	return nil
}
