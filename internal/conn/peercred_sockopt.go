//go:build linux || darwin || freebsd || openbsd || netbsd

package conn

import (
	"fmt"
	"net"
)

// readSockopt runs read on nc's descriptor and returns what it found.
func readSockopt(nc *net.UnixConn, read func(fd int) (PeerCred, error)) (PeerCred, error) {
	raw, err := nc.SyscallConn()
	if err != nil {
		return PeerCred{}, err
	}
	var cred PeerCred
	var sockErr error
	err = raw.Control(func(fd uintptr) { cred, sockErr = read(int(fd)) })
	if err == nil {
		err = sockErr
	}
	if err != nil {
		return PeerCred{}, fmt.Errorf("reading peer credentials: %w", err)
	}
	return cred, nil
}
