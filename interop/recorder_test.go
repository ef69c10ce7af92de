package interop_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// This is internal/eventlog with a timeout per wait: the bulk transfers of these tests take
// longer than eventlog's fixed 10 s on a loaded machine, and Node start-up is slow there.

// event is one event of a Go Server or Client, with its arguments.
type event struct {
	Name string
	Args []any
}

func (e event) String() string {
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
func (e event) Arg(i int) any {
	if i < len(e.Args) {
		return e.Args[i]
	}
	return nil
}

// Err returns argument 0 as an error.
func (e event) Err() error {
	err, _ := e.Arg(0).(error)
	return err
}

// evlog is the list of events recorded so far.
type evlog struct {
	mu     sync.Mutex
	events []event
	cursor map[string]int // per name: how many Wait has taken
	notify chan struct{}
}

func newEvlog() *evlog { return &evlog{cursor: map[string]int{}, notify: make(chan struct{})} }

// record adds the named events of src, with all their arguments.
func (l *evlog) record(src source, names ...string) {
	for _, name := range names {
		src.On(name, func(args ...any) { l.Add(name, args...) })
	}
}

// Add records an event.
func (l *evlog) Add(name string, args ...any) {
	l.mu.Lock()
	l.events = append(l.events, event{Name: name, Args: args})
	close(l.notify)
	l.notify = make(chan struct{})
	l.mu.Unlock()
}

// All returns a copy of every event so far.
func (l *evlog) All() []event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]event(nil), l.events...)
}

// Names returns the names of every event so far.
func (l *evlog) Names() []string {
	var names []string
	for _, e := range l.All() {
		names = append(names, e.Name)
	}
	return names
}

// Count is how many events of that name arrived so far.
func (l *evlog) Count(name string) int {
	n := 0
	for _, e := range l.All() {
		if e.Name == name {
			n++
		}
	}
	return n
}

// Until waits up to timeout until cond holds for the events so far (cond runs with the log
// locked), or fails the test.
func (l *evlog) Until(t testing.TB, what string, timeout time.Duration, cond func(events []event) bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		ok := cond(l.events)
		ch := l.notify
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

// Wait returns the next event of that name not yet returned by Wait, waiting up to stepWait.
func (l *evlog) Wait(t testing.TB, name string) event {
	t.Helper()
	var found event
	l.Until(t, fmt.Sprintf("event %q", name), wait, func(events []event) bool {
		seen := 0
		for _, e := range events {
			if e.Name != name {
				continue
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
func (l *evlog) WaitCount(t testing.TB, name string, n int) {
	t.Helper()
	l.Until(t, fmt.Sprintf("%d %q events", n, name), wait, func(events []event) bool {
		c := 0
		for _, e := range events {
			if e.Name == name {
				c++
			}
		}
		return c >= n
	})
}

func (l *evlog) dump() string {
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
