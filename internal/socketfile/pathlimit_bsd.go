//go:build darwin || ios || freebsd || openbsd || netbsd || dragonfly

package socketfile

const sunPathSize = sunPathBSD
