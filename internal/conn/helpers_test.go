package conn

import (
	"net"
	"testing"

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
