package conn

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// errBadCred: the kernel's answer does not describe a process.
var errBadCred = errors.New("the kernel returned unusable peer credentials")

// xucredVersion is XUCRED_VERSION (<sys/ucred.h>, darwin and FreeBSD).
const xucredVersion = 0

// fromXucred reads uid and gid from a struct xucred (darwin, FreeBSD): the
// effective gid is the first of the groups.
func fromXucred(version, uid uint32, ngroups int16, groups []uint32) (PeerCred, error) {
	if version != xucredVersion || ngroups < 1 || int(ngroups) > len(groups) {
		return PeerCred{}, fmt.Errorf("%w: xucred version %d with %d groups", errBadCred, version, ngroups)
	}
	return PeerCred{UID: uid, GID: groups[0]}, nil
}

// The order of the three 32-bit ids in a system's credentials struct.
type idLayout int

const (
	layoutUIDGIDPID idLayout = iota // OpenBSD struct sockpeercred
	layoutPIDUIDGID                 // NetBSD struct unpcbid
)

// decodeIDs reads three native-endian 32-bit ids from b in the given order.
// A pid of 0 is refused: no peer process has it, and a buffer the kernel
// did not fill would read as pid 0 with uid 0 (root).
func decodeIDs(b []byte, layout idLayout) (PeerCred, error) {
	if len(b) < 12 {
		return PeerCred{}, fmt.Errorf("%w: %d bytes", errBadCred, len(b))
	}
	word := func(i int) uint32 { return binary.NativeEndian.Uint32(b[4*i:]) }
	var c PeerCred
	switch layout {
	case layoutUIDGIDPID:
		c = PeerCred{UID: word(0), GID: word(1), PID: int32(word(2))}
	case layoutPIDUIDGID:
		c = PeerCred{PID: int32(word(0)), UID: word(1), GID: word(2)}
	default:
		return PeerCred{}, fmt.Errorf("%w: unknown layout %d", errBadCred, layout)
	}
	if c.PID <= 0 {
		return PeerCred{}, fmt.Errorf("%w: pid %d", errBadCred, c.PID)
	}
	return c, nil
}
