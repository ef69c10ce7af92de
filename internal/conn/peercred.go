package conn

import "net"

// ReadPeerCred asks the kernel who is at the other end of nc (Linux
// SO_PEERCRED), before a Conn is made of it: a client uses it to refuse a
// server before announcing the connection.
func ReadPeerCred(nc *net.UnixConn) (PeerCred, error) { return peerCred(nc) }
