package eventbus_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	EventBus "github.com/asaskevich/EventBus"

	"github.com/socketipc/socketipc/emitter"
	"github.com/socketipc/socketipc/emitter/eventbus"
)

type jsonPayload struct{ raw []byte }

func (p jsonPayload) PayloadBytes() []byte { return p.raw }
func (p jsonPayload) PayloadValue() (any, error) {
	var v any
	err := json.Unmarshal(p.raw, &v)
	return v, err
}
func (p jsonPayload) DecodePayload(_ string, ptr any) error { return json.Unmarshal(p.raw, ptr) }

// within fails the test if f does not return within d.
func within(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("did not finish within %v (deadlock?)", d)
	}
}

func TestForward(t *testing.T) {
	e := emitter.New(emitter.Options{})
	bus := EventBus.New()
	var got []any
	must(t, bus.Subscribe("message", func(msg any, topic, clientID string) {
		got = append(got, msg, topic, clientID)
	}))
	must(t, bus.Subscribe("close", func() { got = append(got, "close") }))
	must(t, bus.Subscribe("error", func(err error) { got = append(got, err) }))
	must(t, bus.Subscribe("other", func() { t.Error("unforwarded event published") }))

	stop := eventbus.Forward(e, bus, "message", "close", "error")
	if n := e.ListenerCount("message"); n != 1 {
		t.Fatalf("ListenerCount %d", n)
	}
	e.Emit("message", jsonPayload{[]byte(`{"a":[1,true]}`)}, "topic", "id")
	e.Emit("close")
	e.Emit("other")
	boom := errors.New("boom")
	e.Emit("error", boom)
	e.Emit("error", nil) // nil: the handler's zero value
	want := []any{map[string]any{"a": []any{float64(1), true}}, "topic", "id", "close", boom, nil}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}

	stop()
	stop() // idempotent
	for _, ev := range []string{"message", "close", "error"} {
		if n := e.ListenerCount(ev); n != 0 {
			t.Errorf("%s: %d listeners after stop", ev, n)
		}
	}
	got = nil
	e.Emit("close")
	if got != nil {
		t.Errorf("published after stop: %v", got)
	}
}

func TestForwardPayloadFailureIsAnErrorEvent(t *testing.T) {
	e := emitter.New(emitter.Options{})
	bus := EventBus.New()
	must(t, bus.Subscribe("message", func(msg any) { t.Error("published an undecodable payload") }))
	var errs []error
	e.On("error", func(err error) { errs = append(errs, err) })
	eventbus.Forward(e, bus, "message")
	e.Emit("message", jsonPayload{[]byte(`{bad`)})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "invalid character") {
		t.Fatalf("errors: %v", errs)
	}
}

func TestBusHandlerPanicIsAnErrorEvent(t *testing.T) {
	e := emitter.New(emitter.Options{})
	bus := EventBus.New()
	must(t, bus.Subscribe("x", func() { panic("in bus handler") }))
	var errs []error
	e.On("error", func(err error) { errs = append(errs, err) })
	eventbus.Forward(e, bus, "x")
	e.Emit("x")
	var pe *emitter.PanicError
	if len(errs) != 1 || !errors.As(errs[0], &pe) || pe.Value != "in bus handler" {
		t.Fatalf("errors: %v", errs)
	}
	// The bus released its mutex: it is usable again.
	must(t, bus.Subscribe("y", func() {}))
	if !bus.HasCallback("y") {
		t.Error("bus unusable after a handler panic")
	}
}

// sender stands in for a Server or Client: its Send fails and, as every
// failing method does, emits the error on its own emitter before returning.
type sender struct {
	*emitter.Emitter
}

func (s sender) Send(topic string, msg any) error {
	err := fmt.Errorf("send %q: not connected", topic)
	s.Emit("error", err)
	return err
}

// The case that hangs with EventBus as the event core: a listener calls
// Send, Send emits "error" synchronously, and the error listener
// (un)subscribes and emits. EventBus's Publish holds the bus mutex while
// handlers run, so there the nested Publish (and any Subscribe or
// Unsubscribe) would block forever on that mutex. The emitter holds no lock
// while a listener runs, so this completes.
func TestReentrantSendFromListenerDoesNotDeadlock(t *testing.T) {
	within(t, 5*time.Second, func() {
		s := sender{emitter.New(emitter.Options{})}
		var mu sync.Mutex
		var got []string
		record := func(v string) { mu.Lock(); got = append(got, v); mu.Unlock() }

		s.On("error", func(err error) {
			record("error: " + err.Error())
			h := s.Once("retry", func() { record("retry") }) // subscribe from a handler
			s.Emit("retry")                                  // publish from a handler
			if h.Off() {                                     // unsubscribe from a handler
				t.Error("once listener was not run")
			}
			_ = s.ListenerCount("error") // HasCallback from a handler
		})
		s.On("message", func(msg any, topic string) {
			if err := s.Send("reply", msg); err == nil {
				t.Error("Send did not fail")
			}
			record("message done")
		})

		// Forwarding to a bus too: the bus handler may call back into the
		// emitter (not into the bus).
		bus := EventBus.New()
		if err := bus.Subscribe("message", func(msg any, topic string) {
			s.On("late", func() {})
			s.Emit("late")
			record("bus saw " + topic)
		}); err != nil {
			t.Error(err)
		}
		eventbus.Forward(s, bus, "message")

		s.Emit("message", jsonPayload{[]byte(`"hi"`)}, "greeting")
		want := `[error: send "reply": not connected retry message done bus saw greeting]`
		mu.Lock()
		defer mu.Unlock()
		if fmt.Sprint(got) != want {
			t.Errorf("got %v, want %s", got, want)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
