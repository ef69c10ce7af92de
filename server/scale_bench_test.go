package server_test

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
)

// The server at scale (issue 14; scripts/bench S5-S7 measure the same
// across processes): large frames, many connections, many senders.

// bigPayload is a JSON string payload of size bytes: "<i>:" and letters.
func bigPayload(i, size int) string {
	p := strconv.Itoa(i) + ":"
	return p + randomText(size-len(p))
}

// BenchmarkServerDispatch1MiB measures receiving 1 MiB messages: a raw
// client writes frames whose payload is a 1 MiB JSON string, and the server
// delivers each to a json.RawMessage listener. One op is one message.
func BenchmarkServerDispatch1MiB(b *testing.B) {
	const size = 1 << 20
	block := newFrameBlock(b, 4, func(i int) any { return bigPayload(i, size) })
	var errs errBox
	srv, path := newBenchServer(b, &errs)
	defer srv.Close()
	n, received := b.N, 0
	done := make(chan struct{})
	srv.On("message.hello", func(msg json.RawMessage) {
		if len(msg) != size+2 {
			errs.set(fmt.Errorf("message %d: %d bytes, want %d", received, len(msg), size+2))
		}
		received++
		if received == n {
			close(done)
		}
	})
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

	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		if err := block.writeFrames(nc, n); err != nil {
			errs.set(err)
		}
	}()
	waitFor(b, done, "every message", &errs)
	b.StopTimer()
	if err := errs.get(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkServerManyConnections measures receiving S1's small messages
// from one raw client while others stay connected and idle: the cost of a
// message should not grow with the connections held (scripts/bench S7).
// One op is one message delivered to a json.RawMessage listener.
func BenchmarkServerManyConnections(b *testing.B) {
	block := newFrameBlock(b, 1024, func(i int) any { return strconv.Itoa(i) + ":" + randomText(32) })
	for _, clients := range []int{1, 64, 512} {
		b.Run("clients="+strconv.Itoa(clients), func(b *testing.B) {
			var errs errBox
			srv, path := newBenchServer(b, &errs)
			defer srv.Close()
			n, received := b.N, 0
			done := make(chan struct{})
			srv.On("message.hello", func(msg json.RawMessage) {
				received++
				if received == n {
					close(done)
				}
			})
			connected := make(chan struct{})
			count := 0
			srv.On("connection", func() {
				if count++; count == clients {
					close(connected)
				}
			})
			if err := srv.Listen(); err != nil {
				b.Fatal(err)
			}
			conns := dialMany(b, path, clients)
			defer closeConns(conns) // before srv.Close, which waits for the clients to leave
			waitFor(b, connected, "every connection", &errs)

			b.ReportAllocs()
			b.ResetTimer()
			go func() {
				if err := block.writeFrames(conns[0], n); err != nil {
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

// BenchmarkServerManySenders is S5 of scripts/bench in one process: 64 raw
// clients write small messages at once, each its own share of b.N, and the
// server checks that each client's arrive in order. One op is one message.
func BenchmarkServerManySenders(b *testing.B) {
	const clients = 64
	var errs errBox
	srv, path := newBenchServer(b, &errs)
	defer srv.Close()
	share := make([]int, clients)
	for k := range share {
		share[k] = b.N / clients
		if k < b.N%clients {
			share[k]++
		}
	}
	blocks := make([]frameBlock, clients)
	for k := range blocks {
		// Each client's payloads are 0, 1, ... its share - 1, in one block.
		blocks[k] = newFrameBlock(b, max(share[k], 1), func(i int) any { return strconv.Itoa(i) + ":" + randomText(32) })
	}
	next := map[string]int{}
	n, received := b.N, 0
	done := make(chan struct{})
	srv.On("message.hello", func(msg string, clientID string) {
		want := next[clientID]
		if i, err := seqOf(msg); err != nil || i != want {
			errs.set(fmt.Errorf("client %s: message %d, want %d", clientID, i, want))
		}
		next[clientID] = want + 1
		received++
		if received == n {
			close(done)
		}
	})
	connected := make(chan struct{})
	count := 0
	srv.On("connection", func() {
		if count++; count == clients {
			close(connected)
		}
	})
	if err := srv.Listen(); err != nil {
		b.Fatal(err)
	}
	conns := dialMany(b, path, clients)
	defer closeConns(conns) // before srv.Close, which waits for the clients to leave
	waitFor(b, connected, "every connection", &errs)

	b.ReportAllocs()
	b.ResetTimer()
	for k, nc := range conns {
		go func() {
			if err := blocks[k].writeFrames(nc, share[k]); err != nil {
				errs.set(err)
			}
		}()
	}
	waitFor(b, done, "every message", &errs)
	b.StopTimer()
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
	if err := errs.get(); err != nil {
		b.Fatal(err)
	}
}

// seqOf parses the "<i>:" prefix of a payload.
func seqOf(p string) (int, error) {
	digits, _, ok := strings.Cut(p, ":")
	if !ok {
		return -1, fmt.Errorf("no ':' in %.40q", p)
	}
	return strconv.Atoi(digits)
}

// dialMany connects k raw clients (all closed at the end, if the caller
// has not closed them).
func dialMany(b *testing.B, path string, k int) []net.Conn {
	b.Helper()
	conns := make([]net.Conn, 0, k)
	b.Cleanup(func() { closeConns(conns) })
	for range k {
		nc, err := net.Dial("unix", path)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, nc)
	}
	return conns
}

func closeConns(conns []net.Conn) {
	for _, nc := range conns {
		nc.Close()
	}
}
