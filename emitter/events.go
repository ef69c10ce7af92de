package emitter

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// Event declares an event that an Emitter's owner emits, with the
// arguments it passes, so that On, Once, Prepend and PrependOnce can refuse
// at once a listener that could never receive them (see the package doc,
// "Checks at registration").
type Event struct {
	// Name is the event's name; a Name ending in "*" declares a family of
	// events by prefix: "message.*" covers every name that starts with
	// "message." and goes on after it ("message.hello").
	Name string
	// Args are the arguments Emit passes, in order. An emit may pass fewer
	// (the listener's last parameters then get zero values), never more.
	Args []Arg
}

// Arg is one declared argument of an Event.
type Arg struct {
	// Name names the argument in the signatures that panics show.
	Name string
	// Type is the static type of what Emit passes: a listener's parameter
	// is accepted if a value of this type can ever be assigned to it.
	// PayloadType declares a Payload, which decodes into any type.
	Type reflect.Type
}

// ArgOf returns the Arg named name of type T.
func ArgOf[T any](name string) Arg { return Arg{Name: name, Type: reflect.TypeFor[T]()} }

// PayloadType is the type of an Arg that is a Payload: a listener may take
// it as any type at all (the payload decodes into it; when it does not fit,
// that listener is skipped and an error emitted, at delivery).
var PayloadType = reflect.TypeFor[Payload]()

// eventTable is an Emitter's declared events, fixed at New.
type eventTable struct {
	exact    map[string]*Event
	prefixes []prefixEvent // longest prefix first
}

type prefixEvent struct {
	prefix string // the Name without its "*"
	ev     *Event
}

func newEventTable(events []Event) *eventTable {
	if len(events) == 0 {
		return nil
	}
	t := &eventTable{exact: make(map[string]*Event)}
	for _, decl := range events {
		ev := &Event{Name: decl.Name, Args: slices.Clone(decl.Args)} // the caller's slices stay theirs
		for _, a := range ev.Args {
			if a.Type == nil {
				panic(fmt.Sprintf("emitter: event %q declares argument %q without a type", ev.Name, a.Name))
			}
		}
		if p, ok := strings.CutSuffix(ev.Name, "*"); ok {
			t.prefixes = append(t.prefixes, prefixEvent{p, ev})
		} else {
			t.exact[ev.Name] = ev
		}
	}
	slices.SortStableFunc(t.prefixes, func(a, b prefixEvent) int { return len(b.prefix) - len(a.prefix) })
	return t
}

// lookup returns the declaration covering event, or nil.
func (t *eventTable) lookup(event string) *Event {
	if ev, ok := t.exact[event]; ok {
		return ev
	}
	for _, p := range t.prefixes {
		if len(event) > len(p.prefix) && strings.HasPrefix(event, p.prefix) {
			return p.ev
		}
	}
	return nil
}

// check panics when a listener of type ft for event could never receive
// the arguments ev declares.
func (ev *Event) check(event string, ft reflect.Type) {
	fixed := ft.NumIn()
	var elem reflect.Type
	if ft.IsVariadic() {
		fixed--
		elem = ft.In(fixed).Elem()
	}
	if fixed > len(ev.Args) {
		panic(fmt.Sprintf("emitter: a listener for %q takes at most %d parameter%s, %s; got %v",
			event, len(ev.Args), plural(len(ev.Args)), ev.signature(), ft))
	}
	for i, a := range ev.Args {
		p := elem
		if i < fixed {
			p = ft.In(i)
		}
		if p == nil || canHold(p, a.Type) {
			continue
		}
		param := p.String()
		if i >= fixed {
			param = "..." + param
		}
		panic(fmt.Sprintf("emitter: a listener for %q must be %s, or take fewer parameters; got %v: parameter %d (%s) can never hold %s",
			event, ev.signature(), ft, i+1, param, a.describe()))
	}
}

// canHold reports whether a parameter of type p can receive some argument
// whose static type is a.
func canHold(p, a reflect.Type) bool {
	switch {
	case a == PayloadType, a.AssignableTo(p):
		return true
	case a.Kind() == reflect.Interface:
		// The argument's dynamic type may be p, or implement p.
		return p.Kind() == reflect.Interface || p.Implements(a)
	}
	return false
}

// signature is the listener type that takes every argument of ev, with
// the arguments' names: func(msg T, clientID string).
func (ev *Event) signature() string {
	var b strings.Builder
	b.WriteString("func(")
	for i, a := range ev.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.param())
	}
	b.WriteString(")")
	return b.String()
}

func (a Arg) param() string {
	t := "T"
	if a.Type != PayloadType {
		t = a.Type.String()
	}
	if a.Name == "" {
		return t
	}
	return a.Name + " " + t
}

func (a Arg) describe() string {
	if a.Name == "" {
		return a.Type.String()
	}
	return fmt.Sprintf("%s (%v)", a.Name, a.Type)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
