package conn

import "golang.org/x/sys/unix"

// struct sockpeercred { uid_t uid; gid_t gid; pid_t pid; } (<sys/socket.h>)
const (
	peerCredLevel  = unix.SOL_SOCKET
	peerCredOption = unix.SO_PEERCRED
	peerCredLayout = layoutUIDGIDPID
)
