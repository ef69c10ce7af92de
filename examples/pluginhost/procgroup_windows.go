package main

import "syscall"

// ownProcessGroup puts a plugin in a process group of its own, which a
// Ctrl-C in the console does not reach.
func ownProcessGroup() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}
