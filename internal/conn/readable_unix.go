//go:build unix

package conn

import (
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// idleReads: this system lets a reader wait for input without a buffer
// (see socketReader), so reads can be charged to the shared read budget.
const idleReads = true

// source is what the connection's FrameReader reads from.
func (c *Conn) source() io.Reader {
	if c.raw == nil {
		return c.nc
	}
	return socketReader{c}
}

// socketReader is what a connection's FrameReader reads from. With ReadNow
// and WaitReadable the FrameReader gives its read buffer back while the
// peer is quiet, so an idle connection holds no read buffer (see
// message.NewFrameReader), at the cost of one probe each time the peer
// falls quiet, none while it streams.
type socketReader struct{ c *Conn }

func (r socketReader) Read(p []byte) (int, error) { return r.c.nc.Read(p) }

// ReadNow makes one read(2) without waiting. It honours the socket's read
// deadline and fails like a Read once the socket is closed.
func (r socketReader) ReadNow(p []byte) (n int, wouldBlock bool, err error) {
	var rerr error
	err = r.c.raw.Read(func(fd uintptr) bool {
		for {
			n, rerr = syscall.Read(int(fd), p)
			if rerr != syscall.EINTR {
				return true // one attempt: never wait here
			}
		}
	})
	switch {
	case err != nil:
		return 0, false, err
	case rerr == syscall.EAGAIN:
		return 0, true, nil
	case rerr != nil:
		return 0, false, &net.OpError{Op: "read", Net: "unix", Source: r.c.nc.LocalAddr(), Addr: r.c.nc.RemoteAddr(), Err: os.NewSyscallError("read", rerr)}
	case n == 0 && len(p) > 0:
		return 0, false, io.EOF
	}
	return n, false, nil
}

// WaitReadable returns once the socket is readable (input, the end of the
// stream or an error), having given back the reader's share of the read
// budget, and then takes a share again: a connection holds none while it
// waits. It honours the socket's read deadline and fails like a Read once
// the socket is closed. RawConn.Read forgets readiness the poller saw
// before it was called, so it first probes the socket (a one-byte
// MSG_PEEK) and waits only if nothing is there.
func (r socketReader) WaitReadable() error {
	c := r.c
	c.unreserve()
	c.armIdleTimer()
	waited := false
	var probe [1]byte
	err := c.raw.Read(func(fd uintptr) bool {
		if waited {
			return true
		}
		_, _, err := syscall.Recvfrom(int(fd), probe[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if err == syscall.EAGAIN {
			waited = true
			return false // wait for the poller
		}
		return true
	})
	if err != nil {
		return err
	}
	// Input is there: the peer is not idle, whatever the reader waits for
	// next (its share of the budget, or the listeners to catch up).
	c.disarmIdleTimer()
	return c.reserve(nil)
}

// disarmIdleTimer stops the idle clock once input has arrived, so time
// the reader then spends waiting on the server (for the read budget, or
// for the listeners) never counts against the peer.
func (c *Conn) disarmIdleTimer() {
	if c.cfg.IdleTimeout <= 0 {
		return
	}
	c.mu.Lock()
	if !c.closing && !c.aborted {
		_ = c.nc.SetReadDeadline(time.Time{})
	}
	c.mu.Unlock()
}
