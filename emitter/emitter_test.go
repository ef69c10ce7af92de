package emitter_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socketipc/socketipc/emitter"
)

func TestOrderAndPrepend(t *testing.T) {
	var e emitter.Emitter // the zero value works
	var got []string
	rec := func(s string) func() { return func() { got = append(got, s) } }
	e.On("x", rec("a"))
	e.On("x", rec("b"))
	e.Prepend("x", rec("p1"))
	e.On("x", rec("c"))
	e.Prepend("x", rec("p2"))
	e.PrependOnce("x", rec("po"))
	if !e.Emit("x") {
		t.Fatal("Emit returned false with listeners")
	}
	equal(t, got, []string{"po", "p2", "p1", "a", "b", "c"})
	got = nil
	e.Emit("x")
	equal(t, got, []string{"p2", "p1", "a", "b", "c"})
	if e.Emit("nobody") {
		t.Error("Emit returned true without listeners")
	}
	equal(t, e.ListenerCount("x"), 5)
	equal(t, e.ListenerCount("nobody"), 0)
}

func TestEventNamesListenersRemoveAll(t *testing.T) {
	e := emitter.New(emitter.Options{})
	equal(t, e.EventNames(), []string{})
	f := func() {}
	e.On("b", f)
	e.On("a", f)
	e.On("c", f)
	e.On("a", f)
	equal(t, e.EventNames(), []string{"b", "a", "c"})
	equal(t, len(e.Listeners("a")), 2)
	equal(t, reflect.ValueOf(e.Listeners("a")[0]).Pointer(), reflect.ValueOf(f).Pointer())
	equal(t, e.Listeners("none"), []any{})

	e.RemoveAllListeners("a", "zzz")
	equal(t, e.EventNames(), []string{"b", "c"})
	e.On("a", f) // re-added: now last
	equal(t, e.EventNames(), []string{"b", "c", "a"})
	e.RemoveAllListeners()
	equal(t, e.EventNames(), []string{})
	if e.Emit("b") {
		t.Error("listener survived RemoveAllListeners")
	}
	e.On("b", f) // still usable
	equal(t, e.ListenerCount("b"), 1)
}

func TestOnce(t *testing.T) {
	e := emitter.New(emitter.Options{})
	var n, nested int
	e.Once("x", func() {
		n++
		if e.ListenerCount("x") != 1 {
			t.Errorf("once listener not removed before its call: count %d", e.ListenerCount("x"))
		}
		e.Emit("x") // must not re-run this listener
	})
	e.On("x", func() { nested++ })
	e.Emit("x")
	e.Emit("x")
	equal(t, n, 1)
	equal(t, nested, 3) // once by the nested emit, once by each outer emit
	equal(t, e.ListenerCount("x"), 1)
}

func TestOnceConcurrentEmits(t *testing.T) {
	e := emitter.New(emitter.Options{})
	for range 200 {
		var n atomic.Int32
		h := e.Once("x", func() { n.Add(1) })
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				e.Emit("x")
			}()
		}
		close(start)
		wg.Wait()
		if n.Load() != 1 {
			t.Fatalf("once listener ran %d times", n.Load())
		}
		if h.Off() {
			t.Fatal("Off of a once listener that ran returned true")
		}
	}
}

func TestOnceOffIsExclusive(t *testing.T) {
	// Exactly one of "ran" and "Off returned true", however they race.
	e := emitter.New(emitter.Options{})
	for range 500 {
		var ran atomic.Bool
		h := e.Once("x", func() { ran.Store(true) })
		var off atomic.Bool
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.Emit("x")
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			off.Store(h.Off())
		}()
		wg.Wait()
		if ran.Load() == off.Load() {
			t.Fatalf("ran=%v and Off()=%v", ran.Load(), off.Load())
		}
	}
}

func TestOffClosuresOfOneLiteral(t *testing.T) {
	e := emitter.New(emitter.Options{})
	var got []int
	var hs []emitter.Handle
	for i := range 4 {
		hs = append(hs, e.On("x", func() { got = append(got, i) }))
	}
	if !hs[1].Off() {
		t.Fatal("Off returned false for a registered listener")
	}
	if hs[1].Off() || e.Off(hs[1]) {
		t.Fatal("second Off returned true")
	}
	if !e.Off(hs[3]) {
		t.Fatal("e.Off returned false for a registered listener")
	}
	e.Emit("x")
	equal(t, got, []int{0, 2})

	// The same func registered twice: each handle removes its own.
	got = nil
	f := func() { got = append(got, 9) }
	h1 := e.On("y", f)
	e.On("y", f)
	h1.Off()
	e.Emit("y")
	equal(t, got, []int{9})

	// Zero handles and foreign handles.
	var zero emitter.Handle
	if zero.Off() || e.Off(zero) {
		t.Error("zero Handle Off returned true")
	}
	other := emitter.New(emitter.Options{})
	if other.Off(hs[0]) {
		t.Error("Off on another emitter returned true")
	}
	equal(t, e.ListenerCount("x"), 2)
}

func TestRemoveDuringEmit(t *testing.T) {
	e := emitter.New(emitter.Options{})
	var got []string
	var hb, hc, ho emitter.Handle
	first := true
	e.On("x", func() {
		got = append(got, "a")
		if !first {
			return
		}
		first = false
		hb.Off()
		hc.Off()
		if !ho.Off() {
			t.Error("Off of a pending once listener returned false")
		}
	})
	hb = e.On("x", func() { got = append(got, "b") })
	ho = e.Once("x", func() { got = append(got, "once") })
	hc = e.On("x", func() { got = append(got, "c") })
	e.Emit("x")
	// b and c were removed by an earlier listener: still called by this emit
	// (the list is fixed when the emit starts). The removed Once listener is
	// not: Off reported it removed, so it never runs.
	equal(t, got, []string{"a", "b", "c"})
	got = nil
	e.Emit("x")
	equal(t, got, []string{"a"})
}

func TestRemoveAllDuringEmit(t *testing.T) {
	e := emitter.New(emitter.Options{})
	var got []string
	e.On("x", func() { got = append(got, "a"); e.RemoveAllListeners() })
	e.On("x", func() { got = append(got, "b") })
	e.Once("x", func() { got = append(got, "once") })
	e.Emit("x")
	equal(t, got, []string{"a", "b"})
	equal(t, e.ListenerCount("x"), 0)
}

func TestAddDuringEmit(t *testing.T) {
	e := emitter.New(emitter.Options{})
	var got []string
	e.On("x", func() {
		got = append(got, "a")
		e.On("x", func() { got = append(got, "added") })
		e.Prepend("x", func() { got = append(got, "prepended") })
	})
	e.On("x", func() { got = append(got, "b") })
	e.Emit("x")
	equal(t, got, []string{"a", "b"})
	got = nil
	e.Emit("x")
	equal(t, got[:4], []string{"prepended", "a", "b", "added"})
}

func TestFewerAndMoreParams(t *testing.T) {
	e := emitter.New(emitter.Options{})
	errs := collectErrors(e)
	var got []any
	e.On("x", func() { got = append(got, "none") })
	e.On("x", func(a string) { got = append(got, a) })
	e.On("x", func(a, b, c, d string) { got = append(got, a, b, c, d) })        // reflect, more
	e.On("x", func(a, b string, n int, p *hello, m map[string]int, err error) { // reflect, more
		got = append(got, a, b, n, p, m, err)
	})
	e.On("x", func(a any, b string, c string) { got = append(got, a, b, c) }) // fast, more
	e.Emit("x", "A", "B")
	equal(t, got, []any{
		"none",
		"A",
		"A", "B", "", "",
		"A", "B", 0, (*hello)(nil), map[string]int(nil), nil,
		"A", "B", "",
	})
	equal(t, errs.get(), []error(nil))

	// Trailing arguments are dropped.
	got = nil
	e.RemoveAllListeners("x")
	e.On("x", func(a any) { got = append(got, a) })
	e.On("x", func(a, b string) { got = append(got, a, b) })
	e.On("x", func(n int) { got = append(got, n) })
	e.Emit("x", "1", "2", "3", 4)
	equal(t, got[:3], []any{"1", "1", "2"})
}

func TestNilArgsGiveZeroValues(t *testing.T) {
	e := emitter.New(emitter.Options{})
	errs := collectErrors(e)
	var got []any
	e.On("x", func(a any, s string) { got = append(got, a, s) })
	e.On("x", func(err error) { got = append(got, err) })
	e.On("x", func(r json.RawMessage) { got = append(got, r) })
	e.On("x", func(h hello, p *hello, n int) { got = append(got, h, p, n) })
	e.Emit("x", nil, nil, nil)
	equal(t, got, []any{nil, "", nil, json.RawMessage(nil), hello{}, (*hello)(nil), 0})
	equal(t, errs.get(), []error(nil))
}

func TestPayloadParameterShapes(t *testing.T) {
	e := emitter.New(emitter.Options{})
	errs := collectErrors(e)
	p := payload(`{"name":"gopher","n":3}`)
	want := map[string]any{"name": "gopher", "n": float64(3)}
	raw := json.RawMessage(`{"name":"gopher","n":3}`)
	var got []any
	add := func(vs ...any) { got = append(got, vs...) }

	e.On("m", func(v any) { add(v) })
	e.On("m", func(v any, topic string) { add(v, topic) })
	e.On("m", func(v any, topic, id string) { add(v, topic, id) })
	e.On("m", func(r json.RawMessage) { add(r) })
	e.On("m", func(r json.RawMessage, topic string) { add(r, topic) })
	e.On("m", func(r json.RawMessage, topic, id string) { add(r, topic, id) })
	e.On("m", func(b []byte) { add(b) })
	e.On("m", func(h hello) { add(h) })
	e.On("m", func(h *hello, topic string) { add(h, topic) })
	e.On("m", func(m map[string]any, topic, id string, n int) { add(m, topic, id, n) })
	e.On("m", func(pl emitter.Payload) { add(pl) })      // an interface the payload implements
	e.On("m", func(pl *jsonPayload) { add(pl) })         // the payload's own type
	e.On("m", func(args ...any) { add(args...) })        // variadic: every argument
	e.On("m", func(v any, rest ...string) { add(rest) }) // variadic after fixed

	e.Emit("m", p, "topic", "id")
	equal(t, errs.get(), []error(nil))
	equal(t, got, []any{
		want,
		want, "topic",
		want, "topic", "id",
		raw,
		raw, "topic",
		raw, "topic", "id",
		[]byte(raw),
		hello{"gopher", 3},
		&hello{"gopher", 3}, "topic",
		want, "topic", "id", 0,
		p,
		p,
		want, "topic", "id",
		[]string{"topic", "id"},
	})

	// Scalars, decoded into the parameter's type; the direct func(string)
	// and func(string, string) decode a payload too.
	got = nil
	e.RemoveAllListeners("m")
	e.On("m", func(s string) { add(s) })
	e.On("m", func(s, topic string) { add(s, topic) })
	e.On("m", func(f float64) { add(f) })
	e.On("m", func(v any) { add(v) })
	e.Emit("m", payload(`"hi"`), "t")
	equal(t, got, []any{"hi", "hi", "t", "hi"})
	equal(t, len(errs.get()), 1) // "hi" is not a float64
	got = nil
	e.Emit("m", payload(`2.5`))
	equal(t, got, []any{2.5, 2.5})
	equal(t, len(errs.get()), 3) // 2.5 is not a string, twice
	for _, err := range errs.get() {
		var de *decodeError
		if !errors.As(err, &de) {
			t.Errorf("error %v is not the payload's decode error", err)
		}
	}
}

func TestDecodeFailureSkipsOnlyThatListener(t *testing.T) {
	e := emitter.New(emitter.Options{})
	errs := collectErrors(e)
	var got []any
	e.On("m", func(v any) { got = append(got, v) })
	e.On("m", func(h hello) { got = append(got, "decoded", h) })
	e.On("m", func(h hello, topic string) { got = append(got, "decoded2", h) })
	e.On("m", func(r json.RawMessage) { got = append(got, string(r)) })
	p := payload(`{"name":5}`)
	e.Emit("m", p)
	equal(t, got, []any{map[string]any{"name": float64(5)}, `{"name":5}`})
	es := errs.get()
	if len(es) != 2 {
		t.Fatalf("got %d errors, want 2: %v", len(es), es)
	}
	// The payload's own error, not wrapped.
	for _, err := range es {
		de, ok := err.(*decodeError)
		if !ok {
			t.Fatalf("error %T %v is not the payload's *decodeError", err, err)
		}
		equal(t, string(de.Raw), `{"name":5}`)
		equal(t, de.Event, "m") // DecodePayload is told the event, for its error
	}

	// A payload that is not JSON fails PayloadValue for func(any) too; the
	// error is the very value PayloadValue returned.
	got = nil
	bad := payload(`{nope`)
	_, wantErr := bad.PayloadValue()
	e.RemoveAllListeners("m")
	e.On("m", func(v any, topic string) { got = append(got, v) })
	e.On("m", func() { got = append(got, "no params") })
	e.On("m", func(m map[string]any, topic string, n int) { got = append(got, m) }) // reflect path
	e.Emit("m", bad, "t")
	equal(t, got, []any{"no params"})
	es = errs.get()[2:]
	if len(es) != 2 || es[0] != wantErr {
		t.Fatalf("errors %v, want PayloadValue's error for the any listener then a decode error", es)
	}
	if de, ok := es[1].(*decodeError); !ok || string(de.Raw) != `{nope` {
		t.Errorf("error %T %v is not DecodePayload's error", es[1], es[1])
	}
}

func TestArgumentError(t *testing.T) {
	e := emitter.New(emitter.Options{})
	errs := collectErrors(e)
	ran := 0
	e.On("x", func(s string) { t.Error("called with a non-string") })
	e.On("x", func(a any, n int) { t.Error("called with a non-int") })
	e.On("x", func(r json.RawMessage) { t.Error("called with a non-RawMessage") })
	e.On("x", func(err error) { t.Error("called with a non-error") })
	e.On("x", func() { ran++ })
	e.Emit("x", 42, "not an int")
	equal(t, ran, 1)
	want := []emitter.ArgumentError{
		{Event: "x", Index: 0, Want: reflect.TypeFor[string](), Got: reflect.TypeFor[int]()},
		{Event: "x", Index: 1, Want: reflect.TypeFor[int](), Got: reflect.TypeFor[string]()},
		{Event: "x", Index: 0, Want: reflect.TypeFor[json.RawMessage](), Got: reflect.TypeFor[int]()},
		{Event: "x", Index: 0, Want: reflect.TypeFor[error](), Got: reflect.TypeFor[int]()},
	}
	es := errs.get()
	if len(es) != len(want) {
		t.Fatalf("got errors %v", es)
	}
	for i, err := range es {
		ae, ok := err.(*emitter.ArgumentError)
		if !ok {
			t.Fatalf("error %T is not an *ArgumentError", err)
		}
		equal(t, *ae, want[i])
	}
	equal(t, es[1].Error(), `emitter: listener for "x": argument 1 is string, not assignable to parameter type int`)

	// Assignable values pass, to interfaces too; []byte fits json.RawMessage.
	var got []any
	e.RemoveAllListeners("x")
	e.On("x", func(s fmt.Stringer, r json.RawMessage, w io.Writer) { got = append(got, s, r, w) })
	e.On("x", func(a any, r json.RawMessage) { got = append(got, r) })
	d := time.Second
	e.Emit("x", d, []byte("b"), io.Discard)
	equal(t, got, []any{d, json.RawMessage("b"), io.Discard, json.RawMessage("b")})
}

type myHandler func(any, string)
type myErrHandler func(error)

func TestNamedFuncTypes(t *testing.T) {
	e := emitter.New(emitter.Options{})
	var got []any
	e.On("x", myHandler(func(v any, s string) { got = append(got, v, s) }))
	e.On("error", myErrHandler(func(err error) { got = append(got, err) }))
	e.Emit("x", payload(`1`), "t")
	boom := errors.New("boom")
	e.Emit("error", boom)
	equal(t, got, []any{float64(1), "t", boom})
	if _, ok := e.Listeners("x")[0].(myHandler); !ok {
		t.Errorf("Listeners returned %T, want the func as registered", e.Listeners("x")[0])
	}
}

func TestResultsIgnored(t *testing.T) {
	e := emitter.New(emitter.Options{})
	errs := collectErrors(e)
	n := 0
	e.On("x", func(s string) error { n++; return errors.New("ignored") })
	e.Emit("x", "a")
	equal(t, n, 1)
	equal(t, errs.get(), []error(nil))
}

func TestNonFuncPanics(t *testing.T) {
	e := emitter.New(emitter.Options{})
	mustPanic(t, `emitter: listener for "x" must be a func, got int`, func() { e.On("x", 5) })
	mustPanic(t, `emitter: listener for "x" must be a func, got <nil>`, func() { e.Once("x", nil) })
	mustPanic(t, `emitter: listener for "y" must be a func, got string`, func() { e.Prepend("y", "f") })
	mustPanic(t, `emitter: listener for "y" must be a non-nil func, got a nil func()`, func() {
		var f func()
		e.PrependOnce("y", f)
	})
	equal(t, e.EventNames(), []string{})
}

func TestPanicBecomesErrorEvent(t *testing.T) {
	e := emitter.New(emitter.Options{})
	errs := collectErrors(e)
	after := 0
	boom := errors.New("boom")
	e.On("x", func() { panic("kaboom") })
	e.On("x", func(any) { panic(boom) })
	e.On("x", func(hello, int) { panic(nil) }) // reflect path
	e.On("x", func() { after++ })
	if !e.Emit("x", payload(`{}`)) {
		t.Fatal("Emit returned false")
	}
	equal(t, after, 1)
	es := errs.get()
	if len(es) != 3 {
		t.Fatalf("got %d errors: %v", len(es), es)
	}
	pe, ok := es[0].(*emitter.PanicError)
	if !ok {
		t.Fatalf("error %T is not a *PanicError", es[0])
	}
	equal(t, pe.Event, "x")
	equal(t, pe.Value, "kaboom")
	if !strings.Contains(string(pe.Stack), "TestPanicBecomesErrorEvent") {
		t.Errorf("stack does not show the panicking listener:\n%s", pe.Stack)
	}
	equal(t, pe.Error(), `emitter: listener for "x" panicked: kaboom`)
	if !errors.Is(es[1], boom) {
		t.Errorf("a panic with an error does not unwrap to it: %v", es[1])
	}
	var pe3 *emitter.PanicError
	if !errors.As(es[2], &pe3) {
		t.Fatalf("error %T is not a *PanicError", es[2])
	}
	if _, ok := pe3.Value.(*runtime.PanicNilError); !ok {
		t.Errorf("panic(nil) gave Value %#v", pe3.Value)
	}
}

func TestFailureInErrorListenerIsLogged(t *testing.T) {
	e, logs := newLogged()
	calls := 0
	e.On("error", func(err error) {
		calls++
		panic("in error listener")
	})
	e.On("error", func(h hello) { t.Error("called with a non-hello") })
	e.On("x", func() { panic("first") })
	e.Emit("x")
	equal(t, calls, 1) // no recursion
	out := logs.String()
	for _, s := range []string{
		`level=ERROR msg="socketipc: error listener failed"`,
		`in error listener`,
		`handling="emitter: listener for \"x\" panicked: first"`,
		"stack=",
		`argument 0 is *emitter.PanicError, not assignable to parameter type emitter_test.hello`,
	} {
		if !strings.Contains(out, s) {
			t.Errorf("log lacks %q:\n%s", s, out)
		}
	}
	equal(t, strings.Count(out, "error listener failed"), 2)
}

func TestDecodeFailureInErrorListenerIsLogged(t *testing.T) {
	e, logs := newLogged()
	e.On("error", func(h hello) { t.Error("called") })
	e.Emit("error", payload(`[1]`))
	out := logs.String()
	if !strings.Contains(out, `msg="socketipc: error listener failed"`) || !strings.Contains(out, "cannot unmarshal array") {
		t.Errorf("log:\n%s", out)
	}
}

func TestUnhandledErrorIsLogged(t *testing.T) {
	e, logs := newLogged()
	if e.Emit("error", errors.New("nobody listens")) {
		t.Error("Emit returned true without listeners")
	}
	out := logs.String()
	if !strings.Contains(out, `level=ERROR msg="socketipc: unhandled error event" err="nobody listens"`) {
		t.Errorf("log:\n%s", out)
	}
	// A panicking listener with no error listener: logged too.
	e.On("x", func() { panic("lost") })
	e.Emit("x")
	if !strings.Contains(logs.String(), `err="emitter: listener for \"x\" panicked: lost"`) {
		t.Errorf("log:\n%s", logs.String())
	}
	e.Emit("error") // no argument: still logged, no panic
	equal(t, strings.Count(logs.String(), "unhandled error event"), 3)
}

func TestUnhandledErrorDefaultLogger(t *testing.T) {
	buf := &syncBuffer{}
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(buf, nil)))
	defer slog.SetDefault(old)
	var e emitter.Emitter
	e.Emit("error", errors.New("to the default logger"))
	if !strings.Contains(buf.String(), `err="to the default logger"`) {
		t.Errorf("log:\n%s", buf.String())
	}
}

func TestReentrancy(t *testing.T) {
	within(t, 5*time.Second, func() {
		e, logs := newLogged()
		var got []string
		var self emitter.Handle
		self = e.On("x", func(s string) {
			got = append(got, "x:"+s)
			if s != "outer" {
				return
			}
			h := e.On("x", func() {})
			e.Once("y", func() { got = append(got, "y-once") })
			e.Prepend("y", func() { got = append(got, "y") })
			e.PrependOnce("z", func() {})
			_ = e.ListenerCount("x")
			_ = e.EventNames()
			_ = e.Listeners("x")
			e.Emit("x", "nested")
			e.Emit("y")
			e.Emit("error", errors.New("from a listener")) // like a failed Send
			if !h.Off() || !e.Off(self) {
				t.Error("Off from a listener failed")
			}
			e.RemoveAllListeners("z")
			e.RemoveAllListeners()
		})
		e.On("error", func(err error) {
			got = append(got, "error:"+err.Error())
			// An error listener that registers, removes and emits.
			h := e.On("error", func() {})
			h.Off()
			e.Emit("y")
			_ = e.ListenerCount("error")
		})
		e.Emit("x", "outer")
		equal(t, got, []string{"x:outer", "x:nested", "y", "y-once", "error:from a listener", "y"})
		equal(t, e.EventNames(), []string{})
		equal(t, logs.String(), "")
	})
}

func TestConcurrentStress(t *testing.T) {
	e, logs := newLogged()
	var calls atomic.Int64
	e.On("error", func(err error) { t.Errorf("unexpected error: %v", err) })
	within(t, 30*time.Second, func() {
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ev := fmt.Sprintf("e%d", g%3)
				p := payload(`{"name":"x","n":1}`)
				for i := range 300 {
					h := e.On(ev, func(v any, s string) { calls.Add(1) })
					o := e.Once(ev, func(h hello) { calls.Add(1) })
					e.Prepend(ev, func() {
						// nested work from inside a listener, concurrently
						_ = e.ListenerCount(ev)
					})
					e.Emit(ev, p, "t")
					e.Emit(fmt.Sprintf("e%d", i%3), p)
					_ = e.EventNames()
					h.Off()
					o.Off()
					if i%50 == 0 {
						e.RemoveAllListeners(ev)
					}
				}
			}()
		}
		wg.Wait()
	})
	if calls.Load() == 0 {
		t.Error("no listener ran")
	}
	equal(t, logs.String(), "")
}

func TestOnceNeverTwiceUnderStress(t *testing.T) {
	e := emitter.New(emitter.Options{})
	const n = 100
	counts := make([]atomic.Int32, n)
	for i := range n {
		e.Once("x", func() {
			counts[i].Add(1)
			e.Emit("x") // nested emits race with the outer ones
		})
	}
	within(t, 10*time.Second, func() {
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 20 {
					e.Emit("x")
				}
			}()
		}
		wg.Wait()
	})
	for i := range counts {
		if c := counts[i].Load(); c != 1 {
			t.Errorf("once listener %d ran %d times", i, c)
		}
	}
	equal(t, e.ListenerCount("x"), 0)
}

// Every direct shape: missing arguments give zero values; a wrong argument
// in any position skips the listener with an *ArgumentError; a payload that
// does not decode skips it with the payload's error.
func TestDirectShapesMissingAndWrongArgs(t *testing.T) {
	var calls []string
	shapes := map[string]any{
		"none":   func() { calls = append(calls, "none") },
		"any":    func(a any) { calls = append(calls, fmt.Sprint("any", a)) },
		"anyS":   func(a any, s string) { calls = append(calls, fmt.Sprint("anyS", a, s)) },
		"anySS":  func(a any, s, s2 string) { calls = append(calls, fmt.Sprint("anySS", a, s, s2)) },
		"raw":    func(r json.RawMessage) { calls = append(calls, fmt.Sprint("raw", r)) },
		"rawS":   func(r json.RawMessage, s string) { calls = append(calls, fmt.Sprint("rawS", r, s)) },
		"rawSS":  func(r json.RawMessage, s, s2 string) { calls = append(calls, fmt.Sprint("rawSS", r, s, s2)) },
		"s":      func(s string) { calls = append(calls, "s"+s) },
		"sS":     func(s, s2 string) { calls = append(calls, "sS"+s+s2) },
		"err":    func(err error) { calls = append(calls, fmt.Sprint("err", err)) },
		"reflex": func(n int, s string) { calls = append(calls, fmt.Sprint("reflex", n, s)) },
	}
	arity := map[string]int{"none": 0, "any": 1, "anyS": 2, "anySS": 3, "raw": 1, "rawS": 2, "rawSS": 3, "s": 1, "sS": 2, "err": 1, "reflex": 2}
	for name, fn := range shapes {
		t.Run(name, func(t *testing.T) {
			e := emitter.New(emitter.Options{})
			errs := collectErrors(e)
			e.On("x", fn)
			calls = nil
			e.Emit("x")
			if len(calls) != 1 || len(errs.get()) != 0 {
				t.Fatalf("no args: calls %v, errors %v", calls, errs.get())
			}
			for i := range arity[name] {
				calls = nil
				args := []any{"", "", ""}
				if strings.HasPrefix(name, "raw") {
					args[0] = []byte{}
				}
				if name == "reflex" {
					args[0] = 0
				}
				if name == "any" || name == "anyS" || name == "anySS" {
					continue // anything fits any; test the strings below
				}
				args[i] = struct{}{}
				e.Emit("x", args...)
				es := errs.get()
				ae, ok := es[len(es)-1].(*emitter.ArgumentError)
				if len(calls) != 0 || !ok || ae.Index != i {
					t.Errorf("wrong arg %d: calls %v, errors %v", i, calls, es)
				}
			}
			for i := 1; i < arity[name] && strings.HasPrefix(name, "any"); i++ {
				calls = nil
				args := []any{nil, "", ""}
				args[i] = 7
				e.Emit("x", args...)
				es := errs.get()
				ae, ok := es[len(es)-1].(*emitter.ArgumentError)
				if len(calls) != 0 || !ok || ae.Index != i {
					t.Errorf("wrong arg %d: calls %v, errors %v", i, calls, es)
				}
			}
			// A payload in every position: decoded where the parameter
			// is a string or error, which `{}` can't be.
			calls = nil
			n := len(errs.get())
			e.Emit("x", payload(`{}`), payload(`{}`), payload(`{}`))
			es := errs.get()[n:]
			switch name {
			case "none", "any", "raw":
				if len(calls) != 1 || len(es) != 0 {
					t.Errorf("payloads: calls %v, errors %v", calls, es)
				}
			default:
				var de *decodeError
				if len(calls) != 0 || len(es) != 1 || !errors.As(es[0], &de) {
					t.Errorf("payloads: calls %v, errors %v", calls, es)
				}
			}
		})
	}
}

// An error value that is also a Payload is passed to an error parameter as
// itself; a payload of JSON null gives any a nil.
func TestPayloadThatIsAnError(t *testing.T) {
	e := emitter.New(emitter.Options{})
	var got []any
	e.On("x", func(err error) { got = append(got, err) })
	e.On("x", func(v any, n int) { got = append(got, v, n) })
	pe := errPayload{payload(`null`)}
	e.Emit("x", pe)
	equal(t, got, []any{pe, nil, 0})
}

type errPayload struct{ *jsonPayload }

func (errPayload) Error() string { return "errPayload" }

func TestUnhandledErrorWithExtraArgs(t *testing.T) {
	e, logs := newLogged()
	e.Emit("error", errors.New("e"), "extra", 2)
	if !strings.Contains(logs.String(), `err=e args="[extra 2]"`) {
		t.Errorf("log:\n%s", logs.String())
	}
}
