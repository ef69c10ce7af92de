package emitter_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/socketipc/socketipc/emitter"
)

// conn stands in for a server's connection type.
type conn struct{ id string }

func (c *conn) Close() error { return nil }

// discarded stands in for *message.DiscardedError.
type discarded struct{ n int }

func (d *discarded) Error() string { return fmt.Sprint(d.n, " discarded") }

// serverEvents declares events the way a Server does.
var serverEvents = []emitter.Event{
	{Name: "listening"},
	{Name: "connection", Args: []emitter.Arg{emitter.ArgOf[string]("clientID"), emitter.ArgOf[*conn]("conn")}},
	{Name: "connectionClose", Args: []emitter.Arg{emitter.ArgOf[string]("clientID"), emitter.ArgOf[*discarded]("discarded")}},
	{Name: "message", Args: []emitter.Arg{{Name: "msg", Type: emitter.PayloadType}, emitter.ArgOf[string]("topic"), emitter.ArgOf[string]("clientID")}},
	{Name: "message.*", Args: []emitter.Arg{{Name: "msg", Type: emitter.PayloadType}, emitter.ArgOf[string]("clientID")}},
	{Name: "error", Args: []emitter.Arg{emitter.ArgOf[error]("err")}},
	{Name: "close"},
}

func serverLike() *emitter.Emitter { return emitter.New(emitter.Options{Events: serverEvents}) }

// panicText runs f and returns what it panicked with, or "" if it did not.
func panicText(f func()) (text string) {
	defer func() {
		if v := recover(); v != nil {
			text = fmt.Sprint(v)
		}
	}()
	f()
	return ""
}

// Listeners that can receive (some of) their event's arguments are accepted,
// on On, Once, Prepend and PrependOnce alike, and they run.
func TestDeclaredEventsAcceptWhatCanMatch(t *testing.T) {
	type hello struct{ Name string }
	for _, c := range []struct {
		event string
		fn    any
	}{
		{"listening", func() {}},
		{"connection", func() {}},
		{"connection", func(string) {}},
		{"connection", func(id string, c *conn) {}},
		{"connection", func(id any, c any) {}},
		{"connection", func(id string, c io.Closer) {}}, // an interface *conn implements
		{"connection", func(args ...any) {}},
		{"connectionClose", func(id string, d error) {}},
		{"connectionClose", func(id string, d *discarded) {}},
		{"message", func(msg any, topic, id string) {}},
		{"message", func(msg hello, topic string) {}},
		{"message", func(msg int) {}}, // a payload decodes into any type
		{"message", func(msg json.RawMessage, rest ...string) {}},
		{"message.hello", func(msg hello, id string) {}},
		{"message.hello", func(msg []byte) {}},
		{"message.hello", func(msg string, id string) {}},
		{"error", func(err error) {}},
		{"error", func(err any) {}},
		{"error", func(err *discarded) {}},                  // one kind of error
		{"error", func(err interface{ Timeout() bool }) {}}, // some errors have it
		{"submit", func(a, b, c, d int) {}},                 // not declared: an application event
	} {
		for name, add := range map[string]func(*emitter.Emitter, string, any) emitter.Handle{
			"On": (*emitter.Emitter).On, "Once": (*emitter.Emitter).Once,
			"Prepend": (*emitter.Emitter).Prepend, "PrependOnce": (*emitter.Emitter).PrependOnce,
		} {
			e := serverLike()
			if p := panicText(func() { add(e, c.event, c.fn) }); p != "" {
				t.Errorf("%s(%q, %T) panicked: %s", name, c.event, c.fn, p)
			}
		}
	}
}

// Listeners that could never receive their event's arguments panic at
// registration, with a message naming the event, the listener's type and
// the signature it should have.
func TestDeclaredEventsRefuseWhatCannotMatch(t *testing.T) {
	for _, c := range []struct {
		event string
		fn    any
		want  string
	}{
		{"connection", func(id int) {},
			`emitter: a listener for "connection" must be func(clientID string, conn *emitter_test.conn), or take fewer parameters; got func(int): parameter 1 (int) can never hold clientID (string)`},
		{"connection", func(id string, c error) {},
			`emitter: a listener for "connection" must be func(clientID string, conn *emitter_test.conn), or take fewer parameters; got func(string, error): parameter 2 (error) can never hold conn (*emitter_test.conn)`},
		{"connection", func(args ...string) {},
			`emitter: a listener for "connection" must be func(clientID string, conn *emitter_test.conn), or take fewer parameters; got func(...string): parameter 2 (...string) can never hold conn (*emitter_test.conn)`},
		{"error", func(s string) {},
			`emitter: a listener for "error" must be func(err error), or take fewer parameters; got func(string): parameter 1 (string) can never hold err (error)`},
		{"error", func(c *conn) {}, // *conn is not an error
			`emitter: a listener for "error" must be func(err error), or take fewer parameters; got func(*emitter_test.conn): parameter 1 (*emitter_test.conn) can never hold err (error)`},
		{"message", func(msg any, topic int) {},
			`emitter: a listener for "message" must be func(msg T, topic string, clientID string), or take fewer parameters; got func(interface {}, int): parameter 2 (int) can never hold topic (string)`},
		{"message.hello", func(msg any, id, extra string) {},
			`emitter: a listener for "message.hello" takes at most 2 parameters, func(msg T, clientID string); got func(interface {}, string, string)`},
		{"listening", func(x any) {},
			`emitter: a listener for "listening" takes at most 0 parameters, func(); got func(interface {})`},
		{"close", func(error) {},
			`emitter: a listener for "close" takes at most 0 parameters, func(); got func(error)`},
	} {
		for name, add := range map[string]func(*emitter.Emitter, string, any) emitter.Handle{
			"On": (*emitter.Emitter).On, "Once": (*emitter.Emitter).Once,
			"Prepend": (*emitter.Emitter).Prepend, "PrependOnce": (*emitter.Emitter).PrependOnce,
		} {
			e := serverLike()
			if got := panicText(func() { add(e, c.event, c.fn) }); got != c.want {
				t.Errorf("%s(%q, %T):\n got panic %q\nwant panic %q", name, c.event, c.fn, got, c.want)
			}
			if n := e.ListenerCount(c.event); n != 0 {
				t.Errorf("%s(%q, %T) panicked but left %d listener(s)", name, c.event, c.fn, n)
			}
		}
	}
}

// Without declared events nothing is checked: more parameters than
// arguments get zero values, as before.
func TestUndeclaredEventsUnchecked(t *testing.T) {
	var e emitter.Emitter
	var got []any
	e.On("connection", func(id int, a, b string) { got = append(got, id, a, b) })
	e.Emit("connection", 7)
	equal(t, got, []any{7, "", ""})
}

// A declared event delivers as before: the checks change nothing at Emit.
func TestDeclaredEventsDeliver(t *testing.T) {
	e := emitter.New(emitter.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Events: serverEvents})
	var got []string
	e.On("connection", func(id string, c io.Closer) { got = append(got, "connection "+id+" "+c.(*conn).id) })
	e.On("error", func(err *discarded) { got = append(got, err.Error()) })
	e.On("error", func(err error) { got = append(got, "error "+err.Error()) })
	e.On("message.hi", func(msg string, id string) { got = append(got, "hi "+msg+" "+id) })
	e.Emit("connection", "c1", &conn{id: "x"})
	e.Emit("error", &discarded{n: 3})
	e.Emit("error", errors.New("other")) // not a *discarded: that listener is skipped (and logged)
	e.Emit("message.hi", payload(`"there"`), "c1")
	equal(t, strings.Join(got, "; "), "connection c1 x; 3 discarded; error 3 discarded; error other; hi there c1")
}

// New refuses a declaration it cannot check against.
func TestEventDeclarationWithoutType(t *testing.T) {
	got := panicText(func() {
		emitter.New(emitter.Options{Events: []emitter.Event{{Name: "x", Args: []emitter.Arg{{Name: "a"}}}}})
	})
	equal(t, got, `emitter: event "x" declares argument "a" without a type`)
}

// A name close to a declared one is taken for a typo and panics with the
// name that was meant; names far from every declared one are application
// events.
func TestEventNameTypos(t *testing.T) {
	clientEvents := []emitter.Event{
		{Name: "connect", Args: []emitter.Arg{emitter.ArgOf[*conn]("conn")}},
		{Name: "reconnect", Args: []emitter.Arg{emitter.ArgOf[*conn]("conn")}},
		{Name: "disconnect"},
		{Name: "message", Args: []emitter.Arg{{Name: "msg", Type: emitter.PayloadType}, emitter.ArgOf[string]("topic")}},
		{Name: "message.*", Args: []emitter.Arg{{Name: "msg", Type: emitter.PayloadType}}},
		{Name: "error", Args: []emitter.Arg{emitter.ArgOf[error]("err")}},
		{Name: "close"},
		{Name: "closed"},
	}
	for _, c := range []struct {
		events []emitter.Event
		name   string
		meant  string
	}{
		{serverEvents, "mesage", "message"},
		{serverEvents, "Message", "message"},
		{serverEvents, "messgae", "message"}, // swapped bytes
		{serverEvents, "conection", "connection"},
		{serverEvents, "connectionclose", "connectionClose"},
		{serverEvents, "connection_close", "connectionClose"},
		{serverEvents, "listenning", "listening"},
		{serverEvents, "connecting", "connection"},
		{serverEvents, "errors", "error"},
		{serverEvents, "Error", "error"},
		{serverEvents, "ERROR", "error"},
		{serverEvents, "message_hello", "message.hello"},
		{serverEvents, "message:hello", "message.hello"},
		{serverEvents, "Message.hello", "message.hello"},
		{serverEvents, "mesage.hello", "message.hello"},
		{serverEvents, "messages.hello.world", "message.hello.world"},
		{clientEvents, "connected", "connect"},
		{clientEvents, "Reconnect", "reconnect"},
		{clientEvents, "disconnected", "disconnect"},
		{clientEvents, "clsoe", "close"},
		{clientEvents, "closedd", "closed"},
		{clientEvents, "closee", "close"}, // one edit from both close and closed: the first declared
	} {
		e := emitter.New(emitter.Options{Events: c.events})
		want := fmt.Sprintf("emitter: event %q is not one this emitter emits; did you mean %q?", c.name, c.meant)
		for name, add := range map[string]func(*emitter.Emitter, string, any) emitter.Handle{
			"On": (*emitter.Emitter).On, "Once": (*emitter.Emitter).Once,
			"Prepend": (*emitter.Emitter).Prepend, "PrependOnce": (*emitter.Emitter).PrependOnce,
		} {
			if got := panicText(func() { add(e, c.name, func() {}) }); got != want {
				t.Errorf("%s(%q):\n got panic %q\nwant panic %q", name, c.name, got, want)
			}
		}
		if n := e.ListenerCount(c.name); n != 0 {
			t.Errorf("%q: panicked but left %d listener(s)", c.name, n)
		}
	}

	// A family's prefix alone names no event.
	e := serverLike()
	equal(t, panicText(func() { e.On("message.", func() {}) }),
		`emitter: event "message." is not one this emitter emits: "message.*" events have a name after "message."`)

	// Application events, and topics, are accepted and delivered.
	for _, name := range []string{
		"submit", "jobDone", "train", "brain", "clock", "mirror", "tick", "messenger.x",
		"msg.hello", "messageSent", "message.Message", "message.mesage", "message.", "x", "", "$req.add",
		"listen", "closing", "message.hello world", "messagehello",
	} {
		events := serverEvents
		if name == "message." {
			events = nil // undeclared families: anything goes
		}
		e := emitter.New(emitter.Options{Events: events})
		ran := false
		if p := panicText(func() { e.On(name, func() { ran = true }) }); p != "" {
			t.Errorf("On(%q) panicked: %s", name, p)
			continue
		}
		e.Emit(name)
		if !ran {
			t.Errorf("listener of %q did not run", name)
		}
	}
}
