package conn

import (
	"net"
	"unsafe"

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
		// struct xucred ends in a union whose first member is cr_pid since
		// FreeBSD 13 (a NULL pointer before, so 0). x/sys/unix names that
		// last field _, so it is read by its offset: the size of the struct
		// less the pointer it is declared as.
		last := unsafe.Add(unsafe.Pointer(x), unsafe.Sizeof(*x)-unsafe.Sizeof(uintptr(0)))
		cred.PID = *(*int32)(last)
		return cred, nil
	})
}
