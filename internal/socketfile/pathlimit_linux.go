//go:build linux || android

package socketfile

const sunPathSize = sunPathLinux
