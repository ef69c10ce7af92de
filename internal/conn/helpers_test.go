package conn

import (
	"net"
	"testing"
	"time"

	"github.com/socketipc/socketipc/internal/loop"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
)

// unixPair connects a client to a listener on a fresh socket file and
// returns the accepted end and the client's; both are closed when the test
// ends.
func unixPair(t *testing.T) (server, client *net.UnixConn) {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: testsock.Path(t), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err = net.DialUnix("unix", nil, l.Addr().(*net.UnixAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err = l.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return server, client
}

// acceptedEnd is the accepted end of a fresh connection (a Conn made on it and
// not run has no writer goroutine, so what is not written inline stays
// queued); both ends are closed when the test ends.
func acceptedEnd(t *testing.T) *net.UnixConn {
	t.Helper()
	server, _ := unixPair(t)
	return server
}

// runConn runs a Conn on nc with a loop of its own (cfg.Loop is set here).
// When the test ends it closes peer first (Close waits for the peer to end
// its side), then the Conn, then the loop.
func runConn(t *testing.T, nc, peer *net.UnixConn, cfg Config) *Conn {
	t.Helper()
	l := loop.New()
	cfg.Loop = l
	c := New(nc, cfg)
	c.Run()
	t.Cleanup(func() {
		peer.Close()
		c.Close()
		<-c.Done()
		l.Stop()
		<-l.Done()
	})
	return c
}

// writeAndExpect writes wire from peer and checks that arrived then gives
// want, in order.
func writeAndExpect[T comparable](t *testing.T, peer *net.UnixConn, wire string, arrived <-chan T, want ...T) {
	t.Helper()
	if _, err := peer.Write([]byte(wire)); err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		select {
		case g := <-arrived:
			if g != w {
				t.Errorf("message %d: got %+v, want %+v", i, g, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("message %d did not arrive", i)
		}
	}
}
