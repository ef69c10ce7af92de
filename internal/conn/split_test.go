package conn

import (
	"bytes"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socketipc/socketipc/emitter"
	"github.com/socketipc/socketipc/internal/loop"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/message"
	"github.com/stretchr/testify/require"
)

// Batches split between the reader and a helper deliver exactly what
// decoding on delivery gives: the same values, errors and malformed-frame
// reports, in the same order. The same stream goes through a connection
// with splitting on and off (the loop idle, so the reader delivers), and
// the two event logs must be equal; the helpers must be gone once the
// connection is closed.
func TestSplitDecodeMatchesSerial(t *testing.T) {
	var wire bytes.Buffer
	delim := message.Framing{}.Delimiter()
	send := func(topic string, msg any) {
		require.NoError(t, EncodeFrame(message.JSON, message.Framing{}, topic, msg, func(f []byte) error { _, err := wire.Write(f); return err }))
	}
	const n = 3000
	for i := range n {
		switch {
		case i%97 == 13:
			send("order", map[string]any{"id": "not a number", "seq": i}) // fits no aheadOrder
		case i%101 == 7:
			wire.WriteString(`{"topic": broken` + delim) // a malformed frame, twice
			wire.WriteString(`["no envelope"]` + delim)
		case i%3 == 0:
			send("loose", map[string]any{"seq": i, "tags": []any{"x", float64(i), true, nil}, "nested": map[string]any{"k": strings.Repeat("v", i%40)}})
		}
		send("order", aheadOrder{ID: i, Name: fmt.Sprint("order ", i), Items: []aheadItem{{SKU: fmt.Sprint("sku", i), Qty: i % 7}, {SKU: "b", Qty: 1}}, Tags: []string{"a", strings.Repeat("t", i%50)}})
	}
	serial := splitLog(t, wire.Bytes(), true)
	split := splitLog(t, wire.Bytes(), false)
	require.Equal(t, len(serial), len(split))
	for i := range serial {
		require.Equal(t, serial[i], split[i], "event %d", i)
	}
}

// splitLog sends wire to a connection whose loop is idle and returns its
// events, each as text; with splitting off or on (then it checks that
// batches were split).
func splitLog(t *testing.T, wire []byte, off bool) []string {
	leakcheck.Check(t)
	splitOff = off
	defer func() { splitOff = false }()
	path := testsock.Path(t)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	require.NoError(t, err)
	defer ln.Close()
	peer, err := net.Dial("unix", path)
	require.NoError(t, err)
	defer peer.Close()
	nc, err := ln.AcceptUnix()
	require.NoError(t, err)

	em := emitter.New(emitter.Options{})
	var (
		mu   sync.Mutex
		log  []string
		done = make(chan struct{})
	)
	record := func(s string) {
		mu.Lock()
		log = append(log, s)
		mu.Unlock()
	}
	em.On("error", func(err error) { record("error " + err.Error()) })
	em.On("message.order", func(o aheadOrder) { record(fmt.Sprintf("order %#v", o)) })
	em.On("message.order", func(v any) { record(fmt.Sprintf("order as any %#v", v)) })
	em.On("message.loose", func(v any) { record(fmt.Sprintf("loose %#v", v)) })
	em.On("message.end", func() { close(done) })
	l := loop.New()
	c := New(nc, Config{
		Loop:       l,
		DecodeType: func(t *Topic) reflect.Type { return emitter.DecodeType(em, t.Event, 0) },
		OnMessages: func(_ *Conn, msgs []Msg) {
			for i := range msgs {
				m := &msgs[i]
				if m.Err != nil {
					record("malformed " + m.Err.Error())
					continue
				}
				em.Emit(m.Topic.Event, m)
				m.Delivered()
			}
		},
	})
	c.Run()
	before := splitsStarted.Load()
	_, err = peer.Write(wire)
	require.NoError(t, err)
	require.NoError(t, EncodeFrame(message.JSON, message.Framing{}, "end", nil, func(f []byte) error { _, err := peer.Write(f); return err }))
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("not everything was delivered")
	}
	c.Close()
	<-c.Done()
	l.Stop()
	<-l.Done()
	if started := splitsStarted.Load() - before; !off && started == 0 {
		t.Error("no batch was split")
	} else if off && started != 0 {
		t.Errorf("%d batches split with splitting off", started)
	}
	mu.Lock()
	defer mu.Unlock()
	return log
}
