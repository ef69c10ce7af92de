package conn

import (
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/socketipc/socketipc/internal/loop"
	"github.com/socketipc/socketipc/message"
)

// drainWatch counts drain events; a sender notes the count before a send
// and, when the send is refused, waits for a later one.
type drainWatch struct {
	mu    sync.Mutex
	cond  *sync.Cond
	count int
}

func (d *drainWatch) drained() {
	d.mu.Lock()
	d.count++
	d.mu.Unlock()
	d.cond.Broadcast()
}

func (d *drainWatch) now() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.count
}

// after waits until a drain later than seen has happened, or timeout.
func (d *drainWatch) after(seen int, timeout time.Duration) bool {
	timer := time.AfterFunc(timeout, d.cond.Broadcast)
	defer timer.Stop()
	deadline := time.Now().Add(timeout)
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.count <= seen {
		if time.Now().After(deadline) {
			return false
		}
		d.cond.Wait()
	}
	return true
}

// Several goroutines send to one connection through a small queue and pace
// themselves on drain. Every refusal must be followed by a drain, whoever
// finishes the last write: the writer goroutine or a sender writing inline.
func TestDrainAfterEveryRefusal(t *testing.T) {
	nc, peer := unixPair(t)
	go io.Copy(io.Discard, peer) // a fast reader

	watch := &drainWatch{}
	watch.cond = sync.NewCond(&watch.mu)
	l := loop.New()
	c := New(nc, Config{
		MaxQueueBytes: 64 << 10,
		Loop:          l,
		OnMessages:    func(*Conn, []Msg) {},
		OnDrain:       func(*Conn) { watch.drained() },
	})
	c.Run()

	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, size := range []int{40 << 10, 30 << 10} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			frame := make([]byte, size)
			for sent := 0; sent < 300; {
				seen := watch.now()
				err := c.Enqueue(frame)
				switch {
				case err == nil:
					sent++
				case errors.Is(err, message.ErrQueueFull):
					if !watch.after(seen, 5*time.Second) {
						errs <- errors.New("a send was refused and no drain followed within 5s")
						return
					}
				default:
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	c.Abort()
	<-c.Done()
	l.Stop()
	<-l.Done()
}

// A connection aborted while frames are queued and being written counts
// each unwritten byte once: what was queued plus what the writer could not
// finish, never more than was accepted.
func TestAbortCountsUnsentOnce(t *testing.T) {
	nc, _ := unixPair(t) // the client end never reads: the writer blocks
	l := loop.New()
	c := New(nc, Config{MaxQueueBytes: 64 << 20, Loop: l, OnMessages: func(*Conn, []Msg) {}})
	c.Run()
	frame := make([]byte, 4096)
	accepted := 0
	for accepted < 16<<20 {
		if err := c.Enqueue(frame); err != nil {
			t.Fatal(err)
		}
		accepted += len(frame)
	}
	c.Abort()
	<-c.Done()
	l.Stop()
	<-l.Done()
	unsent := c.UnsentBytes()
	if unsent <= 0 || unsent > accepted {
		t.Fatalf("unsent %d bytes of %d accepted: each byte must be counted once", unsent, accepted)
	}
	if q := c.QueuedBytes(); q != 0 {
		t.Fatalf("%d bytes still counted as queued after the connection ended", q)
	}
}
