// Command goserver is a helper of the interop tests: a Go socketipc server
// that listens on the socket file named by its argument, prints "ready" and
// then runs until its stdin closes (or, as the tests do, it is killed with
// SIGKILL, which leaves its socket file behind).
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/socketipc/socketipc/server"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: goserver SOCKET")
		os.Exit(2)
	}
	srv, err := server.New(server.Options{SocketFile: os.Args[1]})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv.On("error", func(err error) { fmt.Fprintln(os.Stderr, "error:", err) })
	if err := srv.Listen(); err != nil {
		os.Exit(1)
	}
	fmt.Println("ready")
	// Exit when the test goes away, so no helper outlives it.
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = srv.Close()
}
