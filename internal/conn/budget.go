package conn

import (
	"errors"
	"sync"
)

// DefaultMaxReadAhead is the default of a ReadBudget shared by a server's
// connections.
const DefaultMaxReadAhead = 8 << 20

// readReservation is what a reader sets aside from the budget before a
// read: the most one read into a pooled buffer can cost once cut, so
// that the budget is never exceeded by reads of ordinary frames: 64 KiB of
// frames, twice that again for topics too long for the cache (a topic is
// at most its frame), and a Msg for each of the at most 4,096 frames that
// one FrameReader.Next returns. The batch's real cost, usually far less,
// replaces it once the frames are cut. Only a frame that grew past the
// pooled buffer can cost more; that is the per-connection frame term of
// docs/SECURITY.md.
const readReservation = int64(3*(64<<10) + 4096*msgSize)

// errStopped: the reader was waiting for the budget when its connection
// began to close.
var errStopped = errors.New("socketipc: reader stopped")

// ReadBudget bounds the bytes that all the connections sharing it have read
// but not yet delivered to listeners. A reader takes its share before it
// reads (and only once input is there, so idle connections take nothing)
// and gives it back as its frames are delivered; when the budget is spent,
// readers wait in turn, first come first served, and their peers' writes
// block in the kernel. A reservation is granted whenever nothing else is
// held, so a budget smaller than one read still makes progress.
type ReadBudget struct {
	limit   int64
	mu      sync.Mutex
	used    int64
	peak    int64
	waiters []*budgetWaiter
}

type budgetWaiter struct {
	n       int64
	granted chan struct{}
}

// NewReadBudget returns a budget of limit bytes; limit <= 0 means
// DefaultMaxReadAhead.
func NewReadBudget(limit int) *ReadBudget {
	if limit <= 0 {
		limit = DefaultMaxReadAhead
	}
	return &ReadBudget{limit: int64(limit)}
}

// Peak is the most the budget has had in use at once: what the connections
// held read ahead, reservations included.
func (b *ReadBudget) Peak() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peak
}

func (b *ReadBudget) fits(n int64) bool { return b.used == 0 || b.used+n <= b.limit }

func (b *ReadBudget) takeLocked(n int64) {
	b.used += n
	b.peak = max(b.peak, b.used)
}

// acquire takes n bytes, waiting for them if needed (having called
// beforeWait, if not nil); it gives up with errStopped when either channel
// closes.
func (b *ReadBudget) acquire(n int64, w *budgetWaiter, beforeWait func(), stop, closing <-chan struct{}) error {
	b.mu.Lock()
	if len(b.waiters) == 0 && b.fits(n) {
		b.takeLocked(n)
		b.mu.Unlock()
		return nil
	}
	w.n = n
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	if beforeWait != nil {
		beforeWait()
	}
	select {
	case <-w.granted:
		return nil
	case <-stop:
	case <-closing:
	}
	b.mu.Lock()
	for i, o := range b.waiters {
		if o == w {
			b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
			b.mu.Unlock()
			return errStopped
		}
	}
	b.mu.Unlock()
	<-w.granted // granted meanwhile: give it back
	b.release(n)
	return errStopped
}

// add changes what is held by n (negative gives back) without waiting.
func (b *ReadBudget) add(n int64) {
	if n < 0 {
		b.release(-n)
		return
	}
	b.mu.Lock()
	b.takeLocked(n)
	b.mu.Unlock()
}

// release gives n bytes back and grants waiting readers what now fits.
func (b *ReadBudget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	for len(b.waiters) > 0 && b.fits(b.waiters[0].n) {
		w := b.waiters[0]
		b.waiters[0] = nil
		b.waiters = b.waiters[1:]
		b.takeLocked(w.n)
		w.granted <- struct{}{}
	}
	b.mu.Unlock()
}

// tryAcquire takes n bytes if they fit now, without waiting and without
// passing readers that wait.
func (b *ReadBudget) tryAcquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.waiters) > 0 || b.used+n > b.limit {
		return false
	}
	b.takeLocked(n)
	return true
}
