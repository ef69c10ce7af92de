// Package errfold bounds the error events a Server or Client queues for its
// event loop. While an error event waits to be delivered, later errors of the
// same kind from the same source are not queued behind it: they are counted
// into it, and it is delivered once, as a *message.RepeatedError carrying the
// count, when more than one was folded. So a loop of failing sends to a
// client that never reads queues at most one event per kind and client,
// however slow the error listener (or logger) is, and Close never waits for
// a backlog of them. The errors a method returns are not affected: every
// caller still gets its own.
package errfold

import (
	"errors"
	"sync"

	"github.com/socketipc/socketipc/message"
)

// Key says which errors fold together: the same kind (a sentinel error)
// from the same source (a client id, or "" for the owner itself).
type Key struct {
	Source string
	Kind   error
}

// Folder holds the error events waiting on one loop. The zero Folder is
// ready to use.
type Folder struct {
	mu      sync.Mutex
	pending map[Key]*entry
	folded  int64 // errors counted into an earlier event, in all
}

type entry struct {
	first error
	count int
}

// Post arranges for err to be emitted: with post (the loop's Post) when no
// error with the same key is waiting, else by counting it into the one that
// is. emit runs on the loop with the error to deliver. A zero key (no Kind)
// never folds.
func (f *Folder) Post(key Key, err error, post func(func()), emit func(error)) {
	if key.Kind == nil {
		post(func() { emit(err) })
		return
	}
	f.mu.Lock()
	if _, ok := f.pending[key]; !ok && len(f.pending) >= maxKeys {
		// Many sources at once (sends to many unknown ids): fold by kind alone.
		key.Source = ""
	}
	if e, ok := f.pending[key]; ok {
		e.count++
		f.folded++
		f.mu.Unlock()
		return
	}
	if f.pending == nil {
		f.pending = make(map[Key]*entry)
	}
	e := &entry{first: err, count: 1}
	f.pending[key] = e
	f.mu.Unlock()
	post(func() {
		f.mu.Lock()
		delete(f.pending, key)
		n := e.count
		f.mu.Unlock()
		if n == 1 {
			emit(e.first)
			return
		}
		emit(&message.RepeatedError{Err: e.first, Count: n})
	})
}

// Folded is how many errors were counted into earlier events instead of
// being emitted on their own.
func (f *Folder) Folded() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.folded
}

// kinds are the sentinels errors are folded by, most specific first.
var kinds = []error{
	message.ErrSendAfterClose,
	message.ErrQueueFull,
	message.ErrConnectionClosed,
	message.ErrNoServer,
	message.ErrBadClient,
}

// errEncodeKind stands for every *message.EncodeError.
var errEncodeKind = errors.New("encode")

// maxKeys bounds how many events wait at once with distinct keys; past it,
// errors fold by kind alone.
const maxKeys = 1024

// SendKey is the key of a failed Send or Broadcast: its cause, and the
// client it was addressed to ("" for a Broadcast, or a failure that names
// no client).
func SendKey(err error) Key {
	var kind error
	for _, k := range kinds {
		if errors.Is(err, k) {
			kind = k
			break
		}
	}
	var ee *message.EncodeError
	if kind == nil && errors.As(err, &ee) {
		kind = errEncodeKind
	}
	if kind == nil {
		return Key{}
	}
	var se *message.SendError
	source := ""
	if errors.As(err, &se) {
		source = se.ClientID
	}
	return Key{Source: source, Kind: kind}
}
