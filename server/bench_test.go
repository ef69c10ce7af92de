package server_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
)

// benchWait bounds every wait of a benchmark, so a lost message fails it
// instead of hanging it.
const benchWait = 2 * time.Minute

// point is the struct a struct-shaped listener decodes the payload into.
type point struct {
	Seq  int    `json:"seq"`
	Text string `json:"text"`
}

func randomText(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + rand.IntN(26))
	}
	return string(b)
}

// frameBlock is a run of pre-encoded frames, written over and over by a raw
// client: ends[k] is where frame k ends.
type frameBlock struct {
	data []byte
	ends []int
}

func newFrameBlock(b *testing.B, n int, msg func(i int) any) frameBlock {
	var fb frameBlock
	for i := range n {
		var err error
		fb.data, err = message.AppendFrame(fb.data, message.JSON, message.Framing{}, "hello", msg(i))
		if err != nil {
			b.Fatal(err)
		}
		fb.ends = append(fb.ends, len(fb.data))
	}
	return fb
}

// writeFrames writes n frames of the block (cycling through it) to w.
func (fb frameBlock) writeFrames(w io.Writer, n int) error {
	for n > 0 {
		k := min(n, len(fb.ends))
		if _, err := w.Write(fb.data[:fb.ends[k-1]]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// errBox keeps the first error a listener or goroutine ran into.
type errBox struct{ v atomic.Pointer[error] }

func (e *errBox) set(err error) { e.v.CompareAndSwap(nil, &err) }
func (e *errBox) get() error {
	if p := e.v.Load(); p != nil {
		return *p
	}
	return nil
}

func waitFor(b *testing.B, ch <-chan struct{}, what string, errs *errBox) {
	b.Helper()
	t := time.NewTimer(benchWait)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
		b.Fatalf("timed out waiting for %s (error: %v)", what, errs.get())
	}
}

func newBenchServer(b *testing.B, errs *errBox) (*server.Server, string) {
	b.Helper()
	path := testsock.Path(b)
	srv, err := server.New(server.Options{SocketFile: path})
	if err != nil {
		b.Fatal(err)
	}
	srv.On("error", func(err error) { errs.set(err) })
	return srv, path
}

// BenchmarkServerDispatch measures receiving: a raw client writes frames as
// fast as it can, and the server delivers each to one listener on the
// "message" event. One op is one message delivered. Each sub-benchmark is a
// listener shape; the payload is a small object ({"seq":..,"text":..}).
func BenchmarkServerDispatch(b *testing.B) {
	block := newFrameBlock(b, 1024, func(i int) any {
		return point{Seq: i, Text: randomText(32)}
	})
	shapes := []struct {
		name     string
		listener func(count func(), errs *errBox) any
	}{
		{"none", func(count func(), _ *errBox) any {
			return func() { count() }
		}},
		{"any", func(count func(), errs *errBox) any {
			return func(msg any, topic, clientID string) {
				if _, ok := msg.(map[string]any); !ok {
					errs.set(fmt.Errorf("any listener got a %T", msg))
				}
				count()
			}
		}},
		{"raw", func(count func(), errs *errBox) any {
			return func(msg json.RawMessage, topic, clientID string) {
				if len(msg) == 0 || msg[0] != '{' {
					errs.set(fmt.Errorf("raw listener got %q", msg))
				}
				count()
			}
		}},
		{"struct", func(count func(), errs *errBox) any {
			return func(msg point, topic, clientID string) {
				if len(msg.Text) != 32 {
					errs.set(fmt.Errorf("struct listener got %+v", msg))
				}
				count()
			}
		}},
	}
	for _, shape := range shapes {
		b.Run(shape.name, func(b *testing.B) {
			var errs errBox
			srv, path := newBenchServer(b, &errs)
			defer srv.Close()
			n, received := b.N, 0
			done := make(chan struct{})
			srv.On("message", shape.listener(func() {
				received++
				if received == n {
					close(done)
				}
			}, &errs))
			connected := make(chan struct{})
			srv.Once("connection", func() { close(connected) })
			if err := srv.Listen(); err != nil {
				b.Fatal(err)
			}
			nc, err := net.Dial("unix", path)
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			waitFor(b, connected, "the connection", &errs)

			b.ReportAllocs()
			b.ResetTimer()
			go func() {
				if err := block.writeFrames(nc, n); err != nil {
					errs.set(err)
				}
			}()
			waitFor(b, done, "every message", &errs)
			b.StopTimer()
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
			if err := errs.get(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// drain reads everything a connection sends, counting bytes, and closes
// done once want bytes have arrived.
func drain(nc net.Conn, want int64, done chan<- struct{}, errs *errBox) {
	buf := make([]byte, 256<<10)
	var got int64
	for got < want {
		n, err := nc.Read(buf)
		got += int64(n)
		if err != nil {
			errs.set(fmt.Errorf("drain: %d of %d bytes: %w", got, want, err))
			return
		}
	}
	if got != want {
		errs.set(fmt.Errorf("drain: %d bytes, want %d", got, want))
	}
	close(done)
}

// paceQueues waits while a queue holds more than limit bytes, so a long
// benchmark loop never fills the 64 MiB send queues.
func paceQueues(queued func() int, limit int) {
	for queued() > limit {
		time.Sleep(50 * time.Microsecond)
	}
}

// BenchmarkBroadcast8 measures Broadcast to 8 connected clients (raw
// sockets that read and count bytes). One op is one message broadcast and
// fully received by all 8.
func BenchmarkBroadcast8(b *testing.B) {
	const clients = 8
	payloads := make([]any, 1024)
	frameLen := make([]int64, len(payloads))
	for i := range payloads {
		p := strconv.Itoa(i) + ":" + randomText(32)
		payloads[i] = p
		f, err := message.AppendFrame(nil, message.JSON, message.Framing{}, "hello", p)
		if err != nil {
			b.Fatal(err)
		}
		frameLen[i] = int64(len(f))
	}
	var errs errBox
	srv, path := newBenchServer(b, &errs)
	defer srv.Close()
	connected := make(chan struct{})
	var ids []string
	srv.On("connection", func(id string) {
		ids = append(ids, id)
		if len(ids) == clients {
			close(connected)
		}
	})
	if err := srv.Listen(); err != nil {
		b.Fatal(err)
	}
	var want int64
	for i := range b.N {
		want += frameLen[i%len(frameLen)]
	}
	dones := make([]chan struct{}, clients)
	for k := range dones {
		nc, err := net.Dial("unix", path)
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		dones[k] = make(chan struct{})
		go drain(nc, want, dones[k], &errs)
	}
	waitFor(b, connected, "the clients", &errs)
	conns := make([]*server.Conn, clients)
	for k, id := range ids {
		if conns[k] = srv.Conn(id); conns[k] == nil {
			b.Fatal("no Conn for a connected client")
		}
	}
	maxQueued := func() int {
		m := 0
		for _, c := range conns {
			m = max(m, c.QueuedBytes())
		}
		return m
	}

	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := srv.Broadcast("hello", payloads[i%len(payloads)]); err != nil {
			b.Fatal(err)
		}
		if i%256 == 255 {
			paceQueues(maxQueued, 16<<20)
		}
	}
	for _, d := range dones {
		waitFor(b, d, "every client to receive everything", &errs)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s/client")
	if err := errs.get(); err != nil && !errors.Is(err, io.EOF) {
		b.Fatal(err)
	}
}
