package loop

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func waitDone(t *testing.T, l *Loop) {
	t.Helper()
	select {
	case <-l.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("loop did not end")
	}
}

// Posts from many goroutines run one at a time, each poster's in order,
// and everything posted before Stop runs. Run with -race: it also checks
// that the loop's reuse of its queue never hands Post an array the loop is
// still reading (a bug this test caught).
func TestPostOrderAndExclusion(t *testing.T) {
	const posters, each = 8, 5000
	l := New()
	var (
		running atomic.Int32
		overlap atomic.Int32
		next    [posters]int // loop-only state: the race detector checks it
		bad     int
		total   int
	)
	var wg sync.WaitGroup
	for p := range posters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				l.Post(func() {
					if running.Add(1) != 1 {
						overlap.Add(1)
					}
					if next[p] != i {
						bad++
					}
					next[p] = i + 1
					total++
					running.Add(-1)
				})
				if i%100 == 0 {
					// Let the loop catch up now and then, so it often
					// finds its queue empty and waits (the path that used
					// to recycle its spare array twice).
					done := make(chan struct{})
					l.Post(func() { close(done) })
					<-done
				}
			}
		}()
	}
	wg.Wait()
	l.Stop()
	waitDone(t, l)
	assert.Zero(t, overlap.Load())
	assert.Zero(t, bad)
	assert.Equal(t, posters*each, total)
}

// Quiet periods between bursts: the loop goes idle, wakes, and reuses its
// buffers; nothing is lost or run twice.
func TestIdleAndWake(t *testing.T) {
	l := New()
	var ran []int
	for round := range 200 {
		done := make(chan struct{})
		for i := range round % 7 {
			l.Post(func() { ran = append(ran, round*10+i) })
		}
		l.Post(func() { close(done) })
		<-done
	}
	l.Stop()
	waitDone(t, l)
	var want []int
	for round := range 200 {
		for i := range round % 7 {
			want = append(want, round*10+i)
		}
	}
	assert.Equal(t, want, ran)
}

func TestStopRunsPendingWork(t *testing.T) {
	l := New()
	release := make(chan struct{})
	var order []int
	l.Post(func() { <-release; order = append(order, 1) })
	l.Post(func() { order = append(order, 2) })
	l.Stop()
	l.Post(func() { order = append(order, 3) }) // after Stop, before the end: still on the loop
	close(release)
	waitDone(t, l)
	assert.Equal(t, []int{1, 2, 3}, order)
}

func TestPostAfterEndRunsInline(t *testing.T) {
	l := New()
	l.Post(func() {})
	l.Stop()
	waitDone(t, l)
	ran := false
	l.Post(func() { ran = true })
	assert.True(t, ran, "a post after the end runs at once on the caller")
	assert.False(t, l.OnLoop())
}

func TestStopUnstarted(t *testing.T) {
	l := New()
	l.Stop()
	waitDone(t, l)
	ran := false
	l.Post(func() { ran = true })
	assert.True(t, ran)
}

func TestOnLoop(t *testing.T) {
	l := New()
	require.False(t, l.OnLoop())
	res := make(chan bool, 1)
	l.Post(func() { res <- l.OnLoop() })
	assert.True(t, <-res)
	assert.False(t, l.OnLoop())
	other := New()
	other.Post(func() { res <- l.OnLoop() })
	assert.False(t, <-res, "another loop's goroutine is not on this loop")
	l.Stop()
	other.Stop()
	waitDone(t, l)
	waitDone(t, other)
}

func TestCurrentGoroutineID(t *testing.T) {
	a := GoroutineID()
	require.NotZero(t, a)
	assert.Equal(t, a, GoroutineID())
	ch := make(chan uint64)
	go func() { ch <- GoroutineID() }()
	b := <-ch
	assert.NotZero(t, b)
	assert.NotEqual(t, a, b)
}
