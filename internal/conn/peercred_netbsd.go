package conn

// struct unpcbid { pid_t unp_pid; uid_t unp_euid; gid_t unp_egid; }
// (<sys/un.h>), read with getsockopt(SOL_LOCAL, LOCAL_PEEREID); x/sys/unix
// does not name either constant for NetBSD.
const (
	peerCredLevel  = 0 // SOL_LOCAL
	peerCredOption = 3 // LOCAL_PEEREID
	peerCredLayout = layoutPIDUIDGID
)
