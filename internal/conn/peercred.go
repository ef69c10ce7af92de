package conn

import (
	"fmt"
	"net"
)

// ReadPeerCred asks the kernel who is at the other end of nc (Linux
// SO_PEERCRED), before a Conn is made of it: a client uses it to refuse a
// server before announcing the connection.
func ReadPeerCred(nc *net.UnixConn) (PeerCred, error) { return peerCred(nc) }

// AskAllowPeer asks an AllowPeer callback about cred. A panic in it is an
// error (the peer is refused), not a crash: the credentials come from the
// peer, which must not be able to kill the process by tripping a bug in
// the application's check.
func AskAllowPeer(allow func(PeerCred) error, cred PeerCred) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if e, ok := v.(error); ok {
				err = fmt.Errorf("AllowPeer panicked: %w", e)
			} else {
				err = fmt.Errorf("AllowPeer panicked: %v", v)
			}
		}
	}()
	return allow(cred)
}
