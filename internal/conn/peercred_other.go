//go:build !(linux || darwin || freebsd || openbsd || netbsd)

package conn

import (
	"errors"
	"fmt"
	"net"
	"runtime"
)

// errPeerCredUnsupported: this system does not tell who is at the other end
// of a Unix socket (or socketipc does not know how to ask it).
var errPeerCredUnsupported = fmt.Errorf("socketipc: peer credentials are not available on %s: %w", runtime.GOOS, errors.ErrUnsupported)

func peerCred(*net.UnixConn) (PeerCred, error) { return PeerCred{}, errPeerCredUnsupported }
