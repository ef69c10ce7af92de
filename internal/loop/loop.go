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
type Loop struct {
	mu       sync.Mutex
	queue    []func()
	spare    []func()
	stopping bool
	started  bool
	ended    bool // set under mu as the loop returns; later posts run inline
	wake     chan struct{}
	done     chan struct{}
	goid     atomic.Uint64
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
	l.queue = append(l.queue, fn)
	wasEmpty := len(l.queue) == 1
	if !l.started {
		l.started = true
		go l.run()
	}
	l.mu.Unlock()
	if wasEmpty {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// Stop lets the loop run what was posted before it, then end. Work posted
// after Stop and before the loop ends still runs on the loop.
func (l *Loop) Stop() {
	l.mu.Lock()
	l.stopping = true
	if !l.started {
		l.started, l.ended = true, true
		close(l.done)
	}
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Done is closed when the loop has ended.
func (l *Loop) Done() <-chan struct{} { return l.done }

// OnLoop reports whether the caller is running on the loop's goroutine
// (inside a listener), where waiting for the loop would deadlock.
func (l *Loop) OnLoop() bool {
	id := l.goid.Load()
	return id != 0 && id == currentGoroutineID()
}

func (l *Loop) run() {
	l.goid.Store(currentGoroutineID())
	defer close(l.done)
	for {
		l.mu.Lock()
		batch := l.queue
		if len(batch) == 0 {
			if l.stopping {
				// Mark done while holding mu so Post cannot queue work that
				// nobody would run.
				l.spare = nil
				l.ended = true
				l.goid.Store(0)
				l.mu.Unlock()
				return
			}
			l.mu.Unlock()
			<-l.wake
			continue
		}
		// The spare becomes the queue; it must not stay the spare too, or
		// the next swap would hand Post the array this batch is being run from.
		l.queue, l.spare = l.spare[:0], nil
		l.mu.Unlock()
		for i, fn := range batch {
			fn()
			batch[i] = nil
		}
		l.mu.Lock()
		if cap(batch) <= 4096 {
			l.spare = batch[:0]
		}
		l.mu.Unlock()
	}
}

// currentGoroutineID parses the running goroutine's id from its stack header
// ("goroutine 123 [running]:"). It is only used off the hot path.
func currentGoroutineID() uint64 {
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
