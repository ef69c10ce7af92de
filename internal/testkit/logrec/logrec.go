// Package logrec records slog records for tests: a handler that keeps every
// record at or above a level, so a test can check what a Server or Client
// logged, with which attributes.
package logrec

import (
	"context"
	"log/slog"
	"sync"
)

// Record is one logged record: its level, message and attributes (groups
// flattened, values resolved).
type Record struct {
	Level   slog.Level
	Message string
	Attrs   map[string]any
}

// Handler keeps every record at or above Level. Use New.
type Handler struct {
	level slog.Level
	attrs []slog.Attr // from WithAttrs
	store *store
}

type store struct {
	mu      sync.Mutex
	records []Record
}

// New returns a handler keeping records at level and above, and a logger
// writing to it.
func New(level slog.Level) (*Handler, *slog.Logger) {
	h := &Handler{level: level, store: &store{}}
	return h, slog.New(h)
}

func (h *Handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	rec := Record{Level: r.Level, Message: r.Message, Attrs: map[string]any{}}
	for _, a := range h.attrs {
		rec.Attrs[a.Key] = a.Value.Resolve().Any()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs[a.Key] = a.Value.Resolve().Any()
		return true
	})
	h.store.mu.Lock()
	h.store.records = append(h.store.records, rec)
	h.store.mu.Unlock()
	return nil
}

func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{level: h.level, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...), store: h.store}
}

func (h *Handler) WithGroup(string) slog.Handler { return h }

// Records returns the records kept so far, in order.
func (h *Handler) Records() []Record {
	h.store.mu.Lock()
	defer h.store.mu.Unlock()
	return append([]Record(nil), h.store.records...)
}

// WithMessage returns the records kept so far whose message is msg.
func (h *Handler) WithMessage(msg string) []Record {
	var out []Record
	for _, r := range h.Records() {
		if r.Message == msg {
			out = append(out, r)
		}
	}
	return out
}
