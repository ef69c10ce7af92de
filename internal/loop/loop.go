// Package loop is the event loop of one Server or Client: a single goroutine
// that runs posted work in order, so that listeners are never called
// concurrently and each sees what earlier ones did.
//
// Work is posted as closures. Connections post one closure per read (a batch
// of frames), not one per message, to keep hand-offs between goroutines rare.
package loop

import (
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
)

// Loop runs posted funcs one at a time, in the order posted.
//
// Delivering is a role, not a place: the loop's goroutine has it while it
// runs a batch, and a connection's reader may take it with Deliver when the
// loop is idle, running its frames on its own goroutine with no hand-off
// (each hand-off is a wake-up, and on a request/response path those cost
// more than the work). Whoever has the role, one func runs at a time, in
// order, and the mutex hand-over makes each see what the previous did.
type Loop struct {
	mu       sync.Mutex
	queue    []func()
	spare    []func()
	busy     bool // someone is delivering
	stopping bool
	started  bool
	ended    bool // set under mu as the loop returns; later posts run inline
	wake     chan struct{}
	done     chan struct{}
	owner    atomic.Uint64 // goroutine id of whoever is delivering
}

// New returns a loop. Its goroutine starts with the first Post, so a loop
// that is never used costs nothing; Stop ends it.
func New() *Loop {
	return &Loop{wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// Post queues fn. After the loop has stopped, fn runs at once on the
// caller's goroutine, so late events (an error from a Send after Close) are
// still delivered, though no longer serially with other callers' late events.
func (l *Loop) Post(fn func()) {
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		fn()
		return
	}
	l.enqueueLocked(fn)
}

// enqueueLocked queues fn and unlocks l.mu.
func (l *Loop) enqueueLocked(fn func()) {
	l.queue = append(l.queue, fn)
	wasEmpty := len(l.queue) == 1
	l.startLocked()
	l.mu.Unlock()
	if wasEmpty {
		signal(l.wake)
	}
}

func (l *Loop) startLocked() {
	if !l.started {
		l.started = true
		go l.run()
	}
}

// Deliver runs fn at once on the caller's goroutine if the loop is idle
// (nothing queued, nobody delivering); otherwise it queues fn as Post does.
// callerID is the caller's GoroutineID, so OnLoop knows who is delivering.
func (l *Loop) Deliver(fn func(), callerID uint64) {
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		fn()
		return
	}
	if l.busy || len(l.queue) > 0 {
		l.enqueueLocked(fn)
		return
	}
	l.busy = true
	l.owner.Store(callerID)
	l.mu.Unlock()

	fn()

	l.mu.Lock()
	l.busy = false
	l.owner.Store(0)
	// What was posted meanwhile is the loop goroutine's to run: the caller
	// goes back to its own work.
	pending := len(l.queue) > 0 || l.stopping
	if pending {
		l.startLocked()
	}
	l.mu.Unlock()
	if pending {
		signal(l.wake)
	}
}

// Delivering reports whether some goroutine is running posted work now: a
// connection's reader that sees it can do work of its own (decoding ahead)
// before its Deliver, which will then queue, not run, its batch.
func (l *Loop) Delivering() bool { return l.owner.Load() != 0 }

// Stop lets the loop run what was posted before it, then end. Work posted
// after Stop and before the loop ends still runs on the loop.
func (l *Loop) Stop() {
	l.mu.Lock()
	l.stopping = true
	l.startLocked()
	l.mu.Unlock()
	signal(l.wake)
}

// Done is closed when the loop has ended.
func (l *Loop) Done() <-chan struct{} { return l.done }

// OnLoop reports whether the caller is the one delivering events (it is
// inside a listener), where waiting for the loop, or for the connection
// whose reader may be delivering, would deadlock.
func (l *Loop) OnLoop() bool {
	id := l.owner.Load()
	return id != 0 && id == GoroutineID()
}

func (l *Loop) run() {
	self := GoroutineID()
	defer close(l.done)
	for {
		l.mu.Lock()
		if l.busy || len(l.queue) == 0 {
			if !l.busy && l.stopping {
				// Mark done while holding mu so Post cannot queue work that
				// nobody would run.
				l.spare = nil
				l.ended = true
				l.mu.Unlock()
				return
			}
			// Idle, or a reader is delivering and will wake us when it is done.
			l.mu.Unlock()
			<-l.wake
			continue
		}
		batch := l.queue
		// The spare becomes the queue; it must not stay the spare too, or
		// the next swap would hand Post the array this batch is being run from.
		l.queue, l.spare = l.spare[:0], nil
		l.busy = true
		l.owner.Store(self)
		l.mu.Unlock()
		for i, fn := range batch {
			fn()
			batch[i] = nil
		}
		l.mu.Lock()
		l.busy = false
		l.owner.Store(0)
		if cap(batch) <= 4096 {
			l.spare = batch[:0]
		}
		l.mu.Unlock()
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// GoroutineID parses the running goroutine's id from its stack header
// ("goroutine 123 [running]:"). It costs about a microsecond: readers call
// it once, Close once.
func GoroutineID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	const prefix = "goroutine "
	if len(b) <= len(prefix) {
		return 0
	}
	b = b[len(prefix):]
	end := 0
	for end < len(b) && b[end] >= '0' && b[end] <= '9' {
		end++
	}
	id, _ := strconv.ParseUint(string(b[:end]), 10, 64)
	return id
}
