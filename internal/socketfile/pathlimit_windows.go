//go:build windows

package socketfile

const sunPathSize = sunPathWindows
