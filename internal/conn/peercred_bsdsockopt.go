//go:build openbsd || netbsd

package conn

import (
	"net"

	"golang.org/x/sys/unix"
)

// x/sys/unix has no getsockopt for OpenBSD's struct sockpeercred or NetBSD's
// struct unpcbid (both three 32-bit ids, 12 bytes), so the option is read
// into the 20-byte buffer of GetsockoptIPv6Mreq: both kernels copy out the
// option's own size when the buffer is larger. decodeIDs reads the ids and
// refuses a result that cannot be a peer's (pid 0).
func peerCred(nc *net.UnixConn) (PeerCred, error) {
	return readSockopt(nc, func(fd int) (PeerCred, error) {
		m, err := unix.GetsockoptIPv6Mreq(fd, peerCredLevel, peerCredOption)
		if err != nil {
			return PeerCred{}, err
		}
		return decodeIDs(m.Multiaddr[:12], peerCredLayout)
	})
}
