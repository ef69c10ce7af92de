// Package eventlog records the events of a Server or Client for tests, so a
// test can wait for an event with a timeout instead of sleeping, and then
// assert on what arrived, in what order, with what arguments.
package eventlog

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socketipc/socketipc/emitter"
)

// Timeout is how long Wait waits by default. It is generous: it only
// matters when a test is about to fail.
const Timeout = 10 * time.Second

// Source is what records events: a Server, a Client or an Emitter.
type Source interface {
	On(event string, listener any) emitter.Handle
}

// Event is one recorded event: its name and its arguments, with message
// payloads decoded to plain values.
type Event struct {
	Name string
	Args []any
}

// String shows the event, with raw JSON as text and very long ones cut.
func (e Event) String() string {
	args := make([]any, len(e.Args))
	for i, a := range e.Args {
		if raw, ok := a.(json.RawMessage); ok {
			a = string(raw)
		}
		args[i] = a
	}
	s := fmt.Sprintf("%s%v", e.Name, args)
	if len(s) > 300 {
		s = s[:300] + fmt.Sprintf("... (%d bytes)", len(s))
	}
	return s
}

// Arg returns argument i, or nil.
func (e Event) Arg(i int) any {
	if i < len(e.Args) {
		return e.Args[i]
	}
	return nil
}

// Err returns argument 0 as an error (for "error" and "connectError").
func (e Event) Err() error {
	err, _ := e.Arg(0).(error)
	return err
}

// Log is the list of events recorded so far. The zero value is ready to use.
type Log struct {
	// Timeout bounds Wait and WaitCount; zero means the package's Timeout.
	// Set it before waiting.
	Timeout time.Duration

	mu     sync.Mutex
	events []Event
	cursor map[string]int // per name: how many Wait has consumed
	notify chan struct{}
}

// Record listens to the named events of src.
func Record(src Source, names ...string) *Log {
	l := &Log{}
	for _, name := range names {
		l.Listen(src, name)
	}
	return l
}

// Listen adds one more event name to record.
func (l *Log) Listen(src Source, name string) {
	src.On(name, func(args ...any) { l.Add(name, args...) })
}

// Add records an event by hand (from a listener a test wrote itself).
func (l *Log) Add(name string, args ...any) {
	l.mu.Lock()
	l.events = append(l.events, Event{Name: name, Args: args})
	if l.notify != nil {
		close(l.notify)
		l.notify = nil
	}
	l.mu.Unlock()
}

// changed returns a channel closed by the next Add; l.mu must be held.
func (l *Log) changed() chan struct{} {
	if l.notify == nil {
		l.notify = make(chan struct{})
	}
	return l.notify
}

// All returns a copy of every event so far.
func (l *Log) All() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.events...)
}

// Names returns the names of every event so far, in order.
func (l *Log) Names() []string {
	var names []string
	for _, e := range l.All() {
		names = append(names, e.Name)
	}
	return names
}

// Count is how many events of that name arrived so far.
func (l *Log) Count(name string) int {
	n := 0
	for _, e := range l.All() {
		if e.Name == name {
			n++
		}
	}
	return n
}

// Until waits until cond holds for the events so far (cond runs with the
// log locked), or fails the test.
func (l *Log) Until(t testing.TB, what string, cond func(events []Event) bool) {
	t.Helper()
	l.Within(t, what, l.timeout(), cond)
}

func (l *Log) timeout() time.Duration {
	if l.Timeout > 0 {
		return l.Timeout
	}
	return Timeout
}

// Within is Until with its own timeout.
func (l *Log) Within(t testing.TB, what string, timeout time.Duration, cond func(events []Event) bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		ok := cond(l.events)
		ch := l.changed()
		l.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s; events so far:\n%s", timeout, what, l.dump())
		}
	}
}

// Wait returns the next event of that name not yet returned by Wait,
// waiting for it if needed; it fails the test on timeout.
func (l *Log) Wait(t testing.TB, name string) Event {
	t.Helper()
	var found Event
	l.Until(t, fmt.Sprintf("event %q", name), func(events []Event) bool {
		seen := 0
		for _, e := range events {
			if e.Name != name {
				continue
			}
			if l.cursor == nil {
				l.cursor = map[string]int{}
			}
			if seen == l.cursor[name] {
				l.cursor[name]++
				found = e
				return true
			}
			seen++
		}
		return false
	})
	return found
}

// WaitCount waits until n events of that name have arrived.
func (l *Log) WaitCount(t testing.TB, name string, n int) {
	t.Helper()
	l.Until(t, fmt.Sprintf("%d %q events", n, name), func(events []Event) bool {
		c := 0
		for _, e := range events {
			if e.Name == name {
				c++
			}
		}
		return c >= n
	})
}

func (l *Log) dump() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	from := max(0, len(l.events)-40)
	if from > 0 {
		fmt.Fprintf(&b, "  ... %d earlier\n", from)
	}
	for _, e := range l.events[from:] {
		fmt.Fprintf(&b, "  %s\n", e)
	}
	return b.String()
}
