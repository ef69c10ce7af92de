package conn

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socketipc/socketipc/emitter"
	"github.com/socketipc/socketipc/internal/loop"
	"github.com/socketipc/socketipc/message"
)

type aheadItem struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

type aheadOrder struct {
	ID    int         `json:"id"`
	Name  string      `json:"name"`
	Items []aheadItem `json:"items"`
	Tags  []string    `json:"tags"`
}

type aheadOther struct {
	ID string `json:"id"`
}

// Payloads are decoded ahead while the loop is busy, and listeners still get
// exactly what decoding on delivery gives: in order, each its own value,
// a mismatched payload skipping only its listener with an error, and
// listeners changed after the read getting values of their own type.
func TestDecodeAheadKeepsEmitterSemantics(t *testing.T) {
	nc, peer := unixPair(t)

	em := emitter.New(emitter.Options{})
	var (
		mu      sync.Mutex
		orders  []aheadOrder
		second  []aheadOrder
		others  []string
		values  []any
		errs    []error
		arrived = make(chan struct{}, 4096)
	)
	note := func() { arrived <- struct{}{} }
	em.On("error", func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock(); note() })
	first := em.On("message.order", func(o aheadOrder) {
		mu.Lock()
		orders = append(orders, o)
		mu.Unlock()
		if len(o.Items) > 0 {
			o.Items[0].SKU = "changed by the first listener" // its own value: the second must not see this
		}
		note()
	})
	em.On("message.order", func(o aheadOrder) { mu.Lock(); second = append(second, o); mu.Unlock() })

	l := loop.New()
	release, stalled := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	unstall := func() { releaseOnce.Do(func() { close(release) }) }
	l.Post(func() { close(stalled); <-release }) // the loop is busy: the reader decodes ahead
	<-stalled
	c := New(nc, Config{
		Loop:       l,
		DecodeType: func(t *Topic) reflect.Type { return emitter.DecodeType(em, t.Event, 0) },
		OnMessages: func(_ *Conn, msgs []Msg) {
			for i := range msgs {
				m := &msgs[i]
				if m.Err != nil {
					t.Errorf("frame %d: %v", i, m.Err)
					continue
				}
				em.Emit(m.Topic.Event, m)
				m.Delivered()
			}
		},
	})
	c.Run()
	defer func() {
		unstall()
		c.Close()
		<-c.Done()
		l.Stop()
		<-l.Done()
	}()

	const n = 400
	var wire bytes.Buffer
	send := func(topic string, msg any) {
		if err := EncodeFrame(message.JSON, message.Framing{}, topic, msg, func(f []byte) error { _, err := wire.Write(f); return err }); err != nil {
			t.Fatal(err)
		}
	}
	want := func(i int) aheadOrder {
		return aheadOrder{ID: i, Name: fmt.Sprint("order ", i), Items: []aheadItem{{SKU: fmt.Sprint("sku", i), Qty: i % 7}}, Tags: []string{"a", strings.Repeat("t", i%5)}}
	}
	for i := range n {
		if i == n/2 {
			send("order", map[string]any{"id": "not a number"}) // fits no listener
		}
		send("order", want(i))
	}
	// Counted from before the write: the reader may decode everything
	// before this goroutine runs again.
	before := decodedAhead.Load()
	if _, err := peer.Write(wire.Bytes()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for decodedAhead.Load()-before < n/2 && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if got := decodedAhead.Load() - before; got < n/2 {
		t.Fatalf("only %d of %d payloads decoded ahead while the loop was busy", got, n)
	}
	// Changed after the read: the first listener goes, one of another type
	// and one taking any come; the values decoded ahead must not leak to them.
	first.Off()
	em.On("message.order", func(o aheadOther) { mu.Lock(); others = append(others, o.ID); mu.Unlock(); note() })
	em.On("message.order", func(v any) { mu.Lock(); values = append(values, v); mu.Unlock(); note() })
	unstall()

	// Each order: an error from the aheadOther listener and a value for
	// the any one. The bad one: an error from the aheadOrder listener, a
	// value for the aheadOther one and one for the any one.
	for range 2*n + 3 {
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("not everything was delivered")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(orders) != 0 {
		t.Errorf("a listener removed before delivery got %d orders", len(orders))
	}
	if len(second) != n {
		t.Fatalf("second listener got %d orders, want %d", len(second), n)
	}
	for i, o := range second {
		if !reflect.DeepEqual(o, want(i)) {
			t.Fatalf("order %d: got %+v, want %+v", i, o, want(i))
		}
	}
	if len(others) != 1 || others[0] != "not a number" {
		t.Errorf("aheadOther listener got %q, want only the mismatched payload's id", others)
	}
	if len(values) != n+1 {
		t.Errorf("any listener got %d values, want %d", len(values), n+1)
	}
	var pte *message.PayloadTypeError
	if len(errs) != n+1 || !errors.As(errs[0], &pte) {
		t.Errorf("got %d errors (first %v), want %d payload type errors", len(errs), errs[0], n+1)
	}
}

// A listener taking any gets its payloads decoded ahead too (a *Msg is
// assignable to any, but an any listener gets PayloadValue, not the *Msg).
func TestDecodeAheadIntoAny(t *testing.T) {
	nc, peer := unixPair(t)
	const n = 200
	em := emitter.New(emitter.Options{})
	var (
		mu   sync.Mutex
		got  []any
		done = make(chan struct{})
	)
	em.On("message.order", func(v any) {
		mu.Lock()
		if got = append(got, v); len(got) == n {
			close(done)
		}
		mu.Unlock()
	})
	l := loop.New()
	release, stalled := make(chan struct{}), make(chan struct{})
	l.Post(func() { close(stalled); <-release }) // the loop is busy: the reader decodes ahead
	<-stalled
	c := New(nc, Config{
		Loop:       l,
		DecodeType: func(t *Topic) reflect.Type { return emitter.DecodeType(em, t.Event, 0) },
		OnMessages: func(_ *Conn, msgs []Msg) {
			for i := range msgs {
				em.Emit(msgs[i].Topic.Event, &msgs[i])
				msgs[i].Delivered()
			}
		},
	})
	c.Run()
	defer func() {
		c.Close()
		<-c.Done()
		l.Stop()
		<-l.Done()
	}()
	var wire bytes.Buffer
	for i := range n {
		if err := EncodeFrame(message.JSON, message.Framing{}, "order", map[string]any{"id": i, "tags": []any{"a", true}}, func(f []byte) error { _, err := wire.Write(f); return err }); err != nil {
			t.Fatal(err)
		}
	}
	before := decodedAhead.Load()
	if _, err := peer.Write(wire.Bytes()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for decodedAhead.Load()-before < n/2 && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if ahead := decodedAhead.Load() - before; ahead < n/2 {
		t.Errorf("only %d of %d payloads decoded ahead into any while the loop was busy", ahead, n)
	}
	close(release)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("not everything was delivered")
	}
	mu.Lock()
	defer mu.Unlock()
	for i, v := range got {
		if want := map[string]any{"id": float64(i), "tags": []any{"a", true}}; !reflect.DeepEqual(v, want) {
			t.Fatalf("message %d: got %#v, want %#v", i, v, want)
		}
	}
}
