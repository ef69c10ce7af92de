package emitter_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/socketipc/socketipc/emitter"
)

// jsonPayload is a Payload over JSON bytes, as the message package's is.
type jsonPayload struct {
	raw  []byte
	once sync.Once
	v    any
	err  error
}

func payload(s string) *jsonPayload { return &jsonPayload{raw: []byte(s)} }

func (p *jsonPayload) PayloadBytes() []byte { return p.raw }

func (p *jsonPayload) PayloadValue() (any, error) {
	p.once.Do(func() {
		if err := json.Unmarshal(p.raw, &p.v); err != nil {
			p.err = &decodeError{Raw: p.raw, Err: err}
		}
	})
	return p.v, p.err
}

func (p *jsonPayload) DecodePayload(event string, ptr any) error {
	if err := json.Unmarshal(p.raw, ptr); err != nil {
		return &decodeError{Event: event, Raw: p.raw, Err: err}
	}
	return nil
}

var _ emitter.Payload = (*jsonPayload)(nil)

// decodeError stands in for *message.DecodeError (from PayloadValue) and
// *message.PayloadTypeError (from DecodePayload, with the event).
type decodeError struct {
	Event string
	Raw   []byte
	Err   error
}

func (e *decodeError) Error() string { return fmt.Sprintf("decode %q: %v", e.Raw, e.Err) }
func (e *decodeError) Unwrap() error { return e.Err }

type hello struct {
	Name string `json:"name"`
	N    int    `json:"n"`
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newLogged returns an Emitter whose Logger writes text to the returned buffer.
func newLogged() (*emitter.Emitter, *syncBuffer) {
	buf := &syncBuffer{}
	return emitter.New(emitter.Options{Logger: slog.New(slog.NewTextHandler(buf, nil))}), buf
}

// within runs f on another goroutine and fails the test if it does not
// return within d (a deadlock, typically). f must report failures with
// t.Error, not t.Fatal.
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

func equal(t *testing.T, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}

func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		v := recover()
		if v == nil {
			t.Errorf("did not panic; want %q", want)
			return
		}
		if s := fmt.Sprint(v); s != want {
			t.Errorf("panic %q, want %q", s, want)
		}
	}()
	f()
}

// errs collects the errors emitted on "error".
type errs struct {
	mu   sync.Mutex
	list []error
}

func collectErrors(e *emitter.Emitter) *errs {
	c := &errs{}
	e.On("error", func(err error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.list = append(c.list, err)
	})
	return c
}

func (c *errs) get() []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]error(nil), c.list...)
}
