package conn

import (
	"net"
	"syscall"
)

// PeerCred identifies the process at the other end of a connection.
type PeerCred struct {
	PID int32
	UID uint32
	GID uint32
}

func peerCred(nc *net.UnixConn) (PeerCred, error) {
	raw, err := nc.SyscallConn()
	if err != nil {
		return PeerCred{}, err
	}
	var cred *syscall.Ucred
	var sockErr error
	err = raw.Control(func(fd uintptr) {
		cred, sockErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	if err == nil {
		err = sockErr
	}
	if err != nil {
		return PeerCred{}, err
	}
	return PeerCred{PID: cred.Pid, UID: cred.Uid, GID: cred.Gid}, nil
}
