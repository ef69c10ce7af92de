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
	names    []string // the exact names, in declaration order
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
			t.names = append(t.names, ev.Name)
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

// checkTypo panics when event, which no declaration covers, looks like a
// mistyped declared name: a listener for it would silently never run.
func (t *eventTable) checkTypo(event string) {
	for _, p := range t.prefixes {
		if event == p.prefix {
			panic(fmt.Sprintf("emitter: event %q is not one this emitter emits: %q events have a name after %q",
				event, p.ev.Name, p.prefix))
		}
	}
	if want, ok := t.suggest(event); ok {
		panic(fmt.Sprintf("emitter: event %q is not one this emitter emits; did you mean %q?", event, want))
	}
}

// suggest returns the declared name that event is a typo of, if any (the
// rule is in the doc of Options.Events).
func (t *eventTable) suggest(event string) (string, bool) {
	best, bestDist := "", 3
	for _, name := range t.names {
		if d := typoDistance(event, name); d < bestDist {
			best, bestDist = name, d
		}
	}
	if best != "" {
		return best, true
	}
	for _, p := range t.prefixes {
		stem := p.prefix[:len(p.prefix)-1]
		if stem == "" || isNameByte(p.prefix[len(p.prefix)-1]) {
			continue // a prefix without a separator of its own
		}
		i := strings.IndexFunc(event, func(r rune) bool { return r > 0x7f || !isNameByte(byte(r)) })
		if i < 0 || i+1 == len(event) {
			continue
		}
		head, rest := event[:i], event[i+1:]
		if (head == stem || isTypo(head, stem)) && event[:i+1] != p.prefix {
			return p.prefix + rest, true
		}
	}
	return "", false
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// isTypo reports whether s, a name other than known, is close enough to
// known to be taken for a mistyped known: equal ignoring case, or starting
// with the same letter and within one edit (two for a known longer than 6
// bytes), ignoring case.
func isTypo(s, known string) bool { return typoDistance(s, known) <= 2 }

// typoDistance is how far s is from known when isTypo holds (0 for a
// difference in case only), else 3.
func typoDistance(s, known string) int {
	if s == known || s == "" {
		return 3
	}
	if strings.EqualFold(s, known) {
		return 0
	}
	s, known = strings.ToLower(s), strings.ToLower(known)
	if s[0] != known[0] {
		return 3
	}
	limit := 1
	if len(known) > 6 {
		limit = 2
	}
	if d := editDistance(s, known, limit); d <= limit {
		return d
	}
	return 3
}

// editDistance is the number of single-byte insertions, deletions,
// substitutions and swaps of adjacent bytes that turn a into b (optimal
// string alignment), or limit+1 when it is more than limit.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	// Three rows of the usual table: two back (for swaps), one back, this one.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return min(prev[len(b)], limit+1)
}
