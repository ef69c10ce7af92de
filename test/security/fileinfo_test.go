//go:build unix

package security

import (
	"os"
	"syscall"
)

func fileGID(fi os.FileInfo) uint32 { return fi.Sys().(*syscall.Stat_t).Gid }

func fileUID(fi os.FileInfo) uint32 { return fi.Sys().(*syscall.Stat_t).Uid }
