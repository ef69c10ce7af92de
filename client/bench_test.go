package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socketipc/socketipc/backoff"
	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
)

// benchWait bounds every wait of a benchmark, so a lost message fails it
// instead of hanging it.
const benchWait = 2 * time.Minute

// benchPayloads returns n payloads "<i>:" + 32 random lower-case letters,
// boxed once (so the loop measures Send, not the boxing), and the length of
// each one's frame.
func benchPayloads(b *testing.B, n int) ([]any, []int64) {
	payloads := make([]any, n)
	frameLen := make([]int64, n)
	for i := range payloads {
		r := make([]byte, 32)
		for j := range r {
			r[j] = byte('a' + rand.IntN(26))
		}
		p := strconv.Itoa(i) + ":" + string(r)
		payloads[i] = p
		f, err := message.AppendFrame(nil, message.JSON, message.Framing{}, "hello", p)
		if err != nil {
			b.Fatal(err)
		}
		frameLen[i] = int64(len(f))
	}
	return payloads, frameLen
}

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

func newBenchClient(b *testing.B, path string, errs *errBox) (*client.Client, <-chan struct{}) {
	b.Helper()
	cli, err := client.New(client.Options{SocketFile: path, RetryDelay: backoff.Constant(10 * time.Millisecond)})
	if err != nil {
		b.Fatal(err)
	}
	cli.On("error", func(err error) { errs.set(err) })
	connected := make(chan struct{})
	cli.Once("connect", func() { close(connected) })
	return cli, connected
}

// BenchmarkClientSend measures Send on a connected client, up to the bytes
// arriving at the server: the server is a raw socket that reads and counts.
// One op is one message sent and received.
func BenchmarkClientSend(b *testing.B) {
	payloads, frameLen := benchPayloads(b, 1024)
	var want int64
	for i := range b.N {
		want += frameLen[i%len(frameLen)]
	}
	var errs errBox
	path := testsock.Path(b)
	ln, err := net.Listen("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	drained := make(chan struct{})
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			errs.set(err)
			return
		}
		defer nc.Close()
		buf := make([]byte, 256<<10)
		var got int64
		for got < want {
			n, err := nc.Read(buf)
			got += int64(n)
			if err != nil {
				errs.set(fmt.Errorf("server: %d of %d bytes: %w", got, want, err))
				return
			}
		}
		close(drained)
	}()
	cli, connected := newBenchClient(b, path, &errs)
	defer cli.Close()
	if err := cli.Connect(); err != nil {
		b.Fatal(err)
	}
	waitFor(b, connected, "connect", &errs)
	conn := cli.Conn()

	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := cli.Send("hello", payloads[i%len(payloads)]); err != nil {
			b.Fatal(err)
		}
		// Keep a long loop from filling the 64 MiB queue.
		if i%256 == 255 {
			for conn.QueuedBytes() > 16<<20 {
				time.Sleep(50 * time.Microsecond)
			}
		}
	}
	waitFor(b, drained, "the server to receive everything", &errs)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if err := errs.get(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRoundTrip is S3 of scripts/bench in one process: a library
// client sends a request from its listener as each reply arrives, and a
// library server echoes it. One op is one round trip.
func BenchmarkRoundTrip(b *testing.B) {
	payloads, _ := benchPayloads(b, 1024)
	var errs errBox
	path := testsock.Path(b)
	srv, err := server.New(server.Options{SocketFile: path})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	srv.On("error", func(err error) { errs.set(err) })
	srv.On("message.hello", func(msg json.RawMessage, id string) {
		if err := srv.Send("hello", msg, id); err != nil {
			errs.set(err)
		}
	})
	if err := srv.Listen(); err != nil {
		b.Fatal(err)
	}
	cli, connected := newBenchClient(b, path, &errs)
	defer cli.Close()
	n, i := b.N, 0
	done := make(chan struct{})
	cli.On("message.hello", func(msg json.RawMessage) {
		i++
		if i == n {
			close(done)
			return
		}
		if err := cli.Send("hello", payloads[i%len(payloads)]); err != nil {
			errs.set(err)
		}
	})
	if err := cli.Connect(); err != nil {
		b.Fatal(err)
	}
	waitFor(b, connected, "connect", &errs)

	b.ReportAllocs()
	b.ResetTimer()
	if err := cli.Send("hello", payloads[0]); err != nil {
		b.Fatal(err)
	}
	waitFor(b, done, "every reply", &errs)
	b.StopTimer()
	if err := errs.get(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRequest: round trips of Client.Request from one waiting
// goroutine (scripts/bench S3r), the server echoing with server.Handle.
func BenchmarkRequest(b *testing.B) {
	payloads, _ := benchPayloads(b, 1024)
	var errs errBox
	path := testsock.Path(b)
	srv, err := server.New(server.Options{SocketFile: path})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	srv.On("error", func(err error) { errs.set(err) })
	server.Handle(srv, "hello", func(_ context.Context, msg json.RawMessage, _ string) (json.RawMessage, error) { return msg, nil })
	if err := srv.Listen(); err != nil {
		b.Fatal(err)
	}
	cli, connected := newBenchClient(b, path, &errs)
	defer cli.Close()
	if err := cli.Connect(); err != nil {
		b.Fatal(err)
	}
	waitFor(b, connected, "connect", &errs)
	ctx := context.Background()
	var reply json.RawMessage
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := cli.Request(ctx, "hello", payloads[i%len(payloads)], &reply); err != nil {
			b.Fatal(err)
		}
	}
}
