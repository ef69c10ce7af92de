//go:build unix

package main

import "syscall"

// ownProcessGroup puts a plugin in a process group of its own.
func ownProcessGroup() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
