// Command federation shows two plugin hosts on two "machines" joined through
// NATS with natsbridge. Each host is a process with its own socketipc Server
// and socket file, a Go plugin (this program, --role plugin) and a Node plugin
// (nodeplugin/plugin.js, the unmodified Node package). It runs a short
// scripted conversation and exits by itself:
//
//  1. each host starts its plugins, bridges its Server to NATS and learns the
//     other host's plugins (their client ids) with a NATS request;
//  2. events: a plugin of each host sends "news", and the plugins of the
//     other host get it;
//  3. the Server's own request to a client of the other host
//     (natsbridge.Bridge.Request: "describe", by client id);
//  4. a plugin's request answered by a plugin of the other host (its
//     Client.Request for "upper" or "wordcount", through both bridges);
//  5. both hosts shut down: plugins, bridges, Servers.
//
// The first process is the host "east"; it starts the host "west" as a
// second process. With no --nats it starts an embedded NATS server
// (nats-server/v2 in-process, on a random loopback port), so it needs
// nothing installed but Go (and Node.js for the Node plugins):
//
//	go -C examples/federation run .
//	go -C examples/federation run . --nats nats://127.0.0.1:4222
//
// The Node plugins use the copy of the Node package installed for the
// interop tests (scripts/test, or `cd test/node && npm ci`); without it the
// hosts say so and run their Go plugins only.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

type config struct {
	role    string // "" (east, which starts west), "host" or "plugin"
	name    string // the host's or plugin's name
	peer    string // the other host's name
	host    string // a plugin's host
	nats    string // the NATS URL; empty: an embedded server
	prefix  string // the subject prefix of this run
	socket  string // a plugin's socket file
	node    string // the node binary; empty: $SOCKETIPC_NODE or node on PATH
	noNode  bool
	root    string // the repository; empty: found from here
	timeout time.Duration
}

func main() {
	var cfg config
	flag.StringVar(&cfg.nats, "nats", "", "NATS server URL (default: start an embedded one)")
	flag.StringVar(&cfg.node, "node", "", "the node binary (default: $SOCKETIPC_NODE, or node on PATH)")
	flag.BoolVar(&cfg.noNode, "no-node", false, "run the Go plugins only")
	flag.StringVar(&cfg.root, "root", "", "the socketipc repository (default: found from the working directory)")
	flag.DurationVar(&cfg.timeout, "timeout", 60*time.Second, "give up if the conversation takes longer")
	// Set by the program for the processes it starts.
	flag.StringVar(&cfg.role, "role", "", "internal: host or plugin")
	flag.StringVar(&cfg.name, "name", "east", "internal: this host's or plugin's name")
	flag.StringVar(&cfg.peer, "peer", "west", "internal: the other host's name")
	flag.StringVar(&cfg.host, "host", "", "internal: a plugin's host")
	flag.StringVar(&cfg.prefix, "prefix", "", "internal: the NATS subject prefix of this run")
	flag.StringVar(&cfg.socket, "socket", "", "internal: a plugin's socket file")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cfg.role {
	case "plugin":
		err = runPlugin(ctx, cfg)
	case "host":
		err = runHost(ctx, cfg, newPrinter(os.Stdout), os.Stdin)
	case "":
		err = runEast(ctx, cfg, os.Stdout)
	default:
		err = fmt.Errorf("unknown --role %q", cfg.role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "federation %s: %v\n", cfg.name, err)
		os.Exit(1)
	}
}

// printer serialises the lines of one process, its own and those it relays.
type printer struct {
	mu  sync.Mutex
	out io.Writer
}

func newPrinter(out io.Writer) *printer { return &printer{out: out} }

func (p *printer) say(format string, args ...any) {
	p.line(fmt.Sprintf(format, args...))
}

func (p *printer) line(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.out, s)
}
