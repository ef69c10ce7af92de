package conn

import (
	"net"
	"syscall"
)

// socketReader is what a connection's FrameReader reads from. Its
// WaitReadable lets the FrameReader give its read buffer back while the
// peer is quiet, so an idle connection holds no read buffer (see
// message.NewFrameReader).
type socketReader struct {
	nc  *net.UnixConn
	raw syscall.RawConn
}

func (r socketReader) Read(p []byte) (int, error) { return r.nc.Read(p) }

// WaitReadable returns once a Read would not block: input, the end of the
// stream or an error is there. It honours the socket's read deadline and
// fails like a Read once the socket is closed.
func (r socketReader) WaitReadable() error {
	var probe [1]byte
	return r.raw.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), probe[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return err != syscall.EAGAIN
	})
}
