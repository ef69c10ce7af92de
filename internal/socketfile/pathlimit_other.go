//go:build !(linux || android || darwin || ios || freebsd || openbsd || netbsd || dragonfly || windows)

package socketfile

// A system without an entry of its own gets the smallest known size.
const sunPathSize = sunPathBSD
