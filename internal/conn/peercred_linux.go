package conn

import (
	"net"
	"syscall"
)

func peerCred(nc *net.UnixConn) (PeerCred, error) {
	return readSockopt(nc, func(fd int) (PeerCred, error) {
		cred, err := syscall.GetsockoptUcred(fd, syscall.SOL_SOCKET, syscall.SO_PEERCRED)
		if err != nil {
			return PeerCred{}, err
		}
		return PeerCred{PID: cred.Pid, UID: cred.Uid, GID: cred.Gid}, nil
	})
}
