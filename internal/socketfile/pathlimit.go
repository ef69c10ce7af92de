package socketfile

// The size of sockaddr_un's sun_path on each system, its terminating NUL
// included. A path must leave room for the NUL: Go's syscall package refuses
// a path of the full size (on the BSDs and darwin, anything of 104 bytes or
// more; on Linux and Windows, 108 bytes unless it is an abstract name).
const (
	sunPathLinux   = 108 // <sys/un.h>, Linux and Android
	sunPathBSD     = 104 // <sys/un.h>, darwin, FreeBSD, OpenBSD, NetBSD, DragonFly
	sunPathWindows = 108 // <afunix.h>, UNIX_PATH_MAX
)

// MaxPathLen is the longest socket path this system accepts: its sun_path
// less the NUL. 107 bytes on Linux and Windows, 103 on darwin and the BSDs.
const MaxPathLen = sunPathSize - 1
