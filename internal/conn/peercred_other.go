//go:build !linux

package conn

import (
	"errors"
	"net"
)

// PeerCred identifies the process at the other end of a connection.
type PeerCred struct {
	PID int32
	UID uint32
	GID uint32
}

// ErrPeerCredUnsupported: this system has no SO_PEERCRED.
var ErrPeerCredUnsupported = errors.New("socketipc: peer credentials are only available on Linux")

func peerCred(*net.UnixConn) (PeerCred, error) { return PeerCred{}, ErrPeerCredUnsupported }
