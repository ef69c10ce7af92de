package conn

import (
	"fmt"
	"net"
)

// PeerCred identifies the process at the other end of a connection, as the
// kernel recorded it when the connection was made. Where it comes from:
//
//   - Linux: SO_PEERCRED (pid, uid, gid).
//   - darwin: LOCAL_PEERCRED (uid, gid) and LOCAL_PEERPID (pid).
//   - FreeBSD: LOCAL_PEERCRED (uid, gid; pid on FreeBSD 13 and later,
//     0 before).
//   - OpenBSD: SO_PEERCRED (pid, uid, gid).
//   - NetBSD: LOCAL_PEEREID (pid, uid, gid).
//
// UID and GID are effective ids. Other systems (Windows among them) have
// none: reading them fails with an error matching errors.ErrUnsupported.
type PeerCred struct {
	PID int32
	UID uint32
	GID uint32
}

// ReadPeerCred asks the kernel who is at the other end of nc, before a Conn
// is made of it: a client uses it to refuse a server before announcing the
// connection.
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
