// Command socketipc talks to socketipc and Node socket-ipc apps from a shell:
// it listens on a socket file and prints what clients send, sends one
// message or one request to a server, or holds a conversation with a server through stdin
// and stdout. Messages are JSON lines on stdout; everything else goes to
// stderr.
//
//	socketipc listen  [flags] SOCKET
//	socketipc send    [flags] SOCKET TOPIC [JSON]
//	socketipc request [flags] SOCKET TOPIC [JSON]
//	socketipc connect [flags] SOCKET
//
// Exit status: 0 done, 1 failure, 2 usage error. Run "socketipc COMMAND
// --help" for a command's flags, or see docs/USAGE.md ("The socketipc
// command").
//
// Install it with
//
//	go install github.com/socketipc/socketipc/cmd/socketipc@latest
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	// An interrupt ends a session as cleanly as the end of stdin does: the
	// socket file is removed, what was sent is flushed.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// A reader that goes away (socketipc listen | head -1) makes the next
	// write fail instead of killing the process, so the socket file is
	// still removed.
	signal.Ignore(syscall.SIGPIPE)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// command is one subcommand.
type command struct {
	name  string
	usage string // the --help text
	run   func(ctx context.Context, t *term, args []string) int
}

var commands = []command{
	{"listen", listenUsage, runListen},
	{"send", sendUsage, runSend},
	{"request", requestUsage, runRequest},
	{"connect", connectUsage, runConnect},
}

const topUsage = `socketipc talks to socketipc and Node socket-ipc apps over a Unix socket file.

Usage:
  socketipc listen  [flags] SOCKET              be a server: print each message received
  socketipc send    [flags] SOCKET TOPIC [JSON] be a client: send one message
  socketipc request [flags] SOCKET TOPIC [JSON] be a client: send one request,
                                                print the reply
  socketipc connect [flags] SOCKET              be a client: send JSON lines from stdin,
                                                print the messages received
  socketipc help [COMMAND]                      this text, or a command's

Messages are printed as JSON lines on stdout; errors and notices go to stderr.
Exit status: 0 done, 1 failure, 2 usage error.
Run 'socketipc COMMAND --help' for a command's flags.
`

// run is the whole program: it parses args (without the program name),
// runs the subcommand and returns the exit status. ctx ends a session the
// way an interrupt does.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	t := newTerm("socketipc", stdin, stdout, stderr)
	if len(args) == 0 {
		t.write(t.stderr, topUsage)
		return exitUsage
	}
	switch name := args[0]; name {
	case "-h", "-help", "--help":
		t.write(t.stdout, topUsage)
		return exitOK
	case "help":
		if len(args) == 1 {
			t.write(t.stdout, topUsage)
			return exitOK
		}
		if c := lookup(args[1]); c != nil {
			t.write(t.stdout, c.usage)
			return exitOK
		}
		return t.usageError("help: unknown command %q", args[1])
	default:
		c := lookup(name)
		if c == nil {
			return t.usageError("unknown command %q", name)
		}
		return c.run(ctx, t.sub(name), args[1:])
	}
}

func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}
