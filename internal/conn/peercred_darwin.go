package conn

import (
	"net"

	"golang.org/x/sys/unix"
)

func peerCred(nc *net.UnixConn) (PeerCred, error) {
	return readSockopt(nc, func(fd int) (PeerCred, error) {
		x, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
		if err != nil {
			return PeerCred{}, err
		}
		cred, err := fromXucred(x.Version, x.Uid, x.Ngroups, x.Groups[:])
		if err != nil {
			return PeerCred{}, err
		}
		pid, err := unix.GetsockoptInt(fd, unix.SOL_LOCAL, unix.LOCAL_PEERPID)
		if err != nil {
			return PeerCred{}, err
		}
		cred.PID = int32(pid)
		return cred, nil
	})
}
