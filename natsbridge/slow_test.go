package natsbridge_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/socketipc/socketipc/natsbridge"
	"github.com/socketipc/socketipc/server"
)

// stallingProxy forwards one TCP connection to target; stall makes it stop
// reading what the client writes, as a NATS server too slow to keep up would.
func stallingProxy(t testing.TB, target string) (addr string, stall, resume func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	stalled := make(chan struct{})
	var stallOnce sync.Once
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		up, err := net.Dial("tcp", target)
		if err != nil {
			return
		}
		defer up.Close()
		go func() { _, _ = io.Copy(c, up) }()
		buf := make([]byte, 32<<10)
		for {
			select {
			case <-stalled:
				<-release
				return
			default:
			}
			n, err := c.Read(buf)
			if n > 0 {
				if _, werr := up.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	resume = func() { once.Do(func() { close(release) }) }
	t.Cleanup(func() {
		resume()
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String(), func() { stallOnce.Do(func() { close(stalled) }) }, resume
}

// A NATS connection that stops taking data: the bridge's buffer fills, what
// does not fit is dropped, counted and reported, and the Server's event loop
// keeps answering its clients.
func TestSlowNATS(t *testing.T) {
	ns := runNATS(t)
	h := newHost(t)
	addr, stall, resume := stallingProxy(t, strings.TrimPrefix(ns.ClientURL(), "nats://"))
	nc, err := nats.Connect("nats://"+addr, nats.ReconnectBufSize(-1))
	if err != nil {
		t.Fatal(err)
	}
	b, err := natsbridge.ForServer(h.srv, nc, natsbridge.Options{Topics: []string{"big"}, MaxPending: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	server.Handle(h.srv, "ping", func(_ context.Context, n int, _ string) (int, error) { return n + 1, nil })
	stall()

	payload := strings.Repeat("x", 64<<10)
	dropped := 0
	for i := 0; dropped == 0 && i < 2000; i++ {
		if err := h.cli.Send("big", payload); err != nil {
			t.Fatal(err)
		}
		// The loop still answers between the big messages.
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		var got int
		err := h.cli.Request(ctx, "ping", i, &got)
		cancel()
		if err != nil || got != i+1 {
			t.Fatalf("request %d: %d, %v", i, got, err)
		}
		select {
		case err := <-h.errs:
			if !errors.Is(err, natsbridge.ErrDropped) {
				t.Fatalf("error %v", err)
			}
			dropped++
		default:
		}
	}
	if dropped == 0 {
		t.Fatal("2000 messages of 64 KiB into a stalled connection, nothing dropped")
	}
	s := b.Stats()
	t.Logf("stats %+v", s)
	if s.Dropped == 0 {
		t.Errorf("stats %+v", s)
	}
	// Close waits for the publish in progress, which the stalled connection
	// holds until the proxy lets go.
	resume()
	b.Close()
	nc.Close()
}
