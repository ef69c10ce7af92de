// Package emitter is a string-keyed event emitter with the semantics of
// Node's EventEmitter, for Go funcs: listeners of any func type, called
// synchronously in registration order by Emit.
//
// (API stub: implementation in progress.)
package emitter

import "log/slog"

// Options configure an Emitter. The zero value works.
type Options struct {
	// Logger receives "error" events that no listener handles and failures
	// inside "error" listeners. Nil means slog.Default().
	Logger *slog.Logger
}

// Emitter holds listeners by event name.
type Emitter struct{}

// New returns an Emitter.
func New(opts Options) *Emitter { return &Emitter{} }

// Handle identifies one registration; it removes exactly that one.
type Handle struct{}

// Off removes the listener; it reports whether it was still registered.
func (h Handle) Off() bool { return false }

// Payload is an event argument whose Go form each listener chooses by its
// parameter type: any gets PayloadValue, json.RawMessage gets PayloadBytes,
// any other type T gets DecodePayload into a new T.
type Payload interface {
	PayloadBytes() []byte
	PayloadValue() (any, error)
	DecodePayload(ptr any) error
}

func (e *Emitter) On(event string, listener any) Handle          { return Handle{} }
func (e *Emitter) Once(event string, listener any) Handle        { return Handle{} }
func (e *Emitter) Prepend(event string, listener any) Handle     { return Handle{} }
func (e *Emitter) PrependOnce(event string, listener any) Handle { return Handle{} }
func (e *Emitter) Off(h Handle) bool                             { return false }
func (e *Emitter) RemoveAllListeners(events ...string)           {}
func (e *Emitter) ListenerCount(event string) int                { return 0 }
func (e *Emitter) EventNames() []string                          { return nil }
func (e *Emitter) Emit(event string, args ...any) bool           { return false }
