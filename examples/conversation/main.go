// Command conversation is the Go version of the Node package socket-ipc's
// conversation example: a server says "hello" to every client each second;
// each client answers "helloback" with its name and the greeting it got; the
// server says "helloagain" to the client named charlie only.
//
// With no flags it makes its own socket file in a temporary folder, prints
// the conversation and exits after about five seconds:
//
//	go run ./examples/conversation
//
// For real use, name the socket and run the two sides apart (either side may
// be the Node example instead):
//
//	go run ./examples/conversation --socket /tmp/conv.sock --role server --forever
//	go run ./examples/conversation --socket /tmp/conv.sock --role client --name bob --forever
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
)

type config struct {
	socket   string
	role     string // all, server or client
	names    []string
	interval time.Duration
	duration time.Duration // 0: until interrupted
}

func main() {
	var cfg config
	var names string
	var forever bool
	flag.StringVar(&cfg.socket, "socket", "", "socket file (default: a new one in a temporary folder)")
	flag.StringVar(&cfg.role, "role", "all", "what to run: all, server or client")
	flag.StringVar(&names, "name", "bob,charlie", "client name(s), comma-separated")
	flag.DurationVar(&cfg.interval, "interval", time.Second, "time between two hellos")
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "how long to run")
	flag.BoolVar(&forever, "forever", false, "run until interrupted")
	flag.Parse()
	cfg.names = strings.Split(names, ",")
	if forever {
		cfg.duration = 0
	}
	if cfg.socket == "" {
		dir, err := os.MkdirTemp("", "conversation")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer os.RemoveAll(dir)
		cfg.socket = filepath.Join(dir, "conversation.sock")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// printer serialises output lines from the server's and the clients' events.
type printer struct {
	mu    sync.Mutex
	out   io.Writer
	start time.Time
}

func (p *printer) say(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, "%5.1fs  %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

func run(ctx context.Context, cfg config, out io.Writer) error {
	if cfg.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.duration)
		defer cancel()
	}
	p := &printer{out: out, start: time.Now()}
	p.say("socket file: %s", cfg.socket)

	var closers []func() error
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}()
	if cfg.role == "all" || cfg.role == "server" {
		closeServer, err := startServer(ctx, cfg, p)
		if err != nil {
			return err
		}
		closers = append(closers, closeServer)
	}
	if cfg.role == "all" || cfg.role == "client" {
		for i, name := range cfg.names {
			// Clients join a little after the server starts greeting, so
			// the first hellos go to nobody, as in the Node example.
			if cfg.role == "all" {
				select {
				case <-time.After(cfg.interval + time.Duration(i)*cfg.interval/2):
				case <-ctx.Done():
					return nil
				}
			}
			cli, err := startClient(cfg, strings.TrimSpace(name), p)
			if err != nil {
				return err
			}
			closers = append(closers, cli.Close)
		}
	}
	<-ctx.Done()
	p.say("closing")
	return nil
}

// startServer starts the server and its greeter; the func it returns stops
// the greeter, then closes the server, so no greeting races the close.
func startServer(ctx context.Context, cfg config, p *printer) (func() error, error) {
	srv, err := server.New(server.Options{SocketFile: cfg.socket})
	if err != nil {
		return nil, err
	}
	// Server listeners get the client id as an extra argument.
	srv.On("message", func(msg any, topic, clientID string) {
		p.say("client %s -> server [%s] %v", clientID[:8], topic, msg)
	})
	srv.On("message.helloback", func(msg struct {
		ClientName string `json:"clientName"`
		Original   any    `json:"original"`
	}, clientID string) {
		if msg.ClientName == "charlie" {
			srv.Send("helloagain", msg.Original, clientID)
		}
	})
	srv.On("error", func(err error) {
		// A client may leave between its message and our answer (here: at
		// shutdown). Send reports that with message.ErrBadClient, and a
		// broadcast names a client whose connection was closing in its
		// Missed list, with message.ErrConnectionClosed.
		if errors.Is(err, message.ErrBadClient) {
			p.say("server: a client left before its answer was sent")
			return
		}
		if errors.Is(err, message.ErrConnectionClosed) {
			p.say("server: a client left before a greeting reached it")
			return
		}
		p.say("server error: %v", err)
	})
	srv.On("close", func() { p.say("server closed") })
	stopGreeting := make(chan struct{})
	var greeter sync.WaitGroup
	srv.On("listening", func() {
		p.say("server listening")
		greeter.Add(1)
		go func() {
			defer greeter.Done()
			tick := time.NewTicker(cfg.interval)
			defer tick.Stop()
			for n := 1; ; n++ {
				select {
				case <-tick.C:
					srv.Broadcast("hello", n)
				case <-ctx.Done():
					return
				case <-stopGreeting:
					return
				}
			}
		}()
	})
	closeServer := func() error {
		close(stopGreeting)
		greeter.Wait()
		return srv.Close()
	}
	if err := srv.Listen(); err != nil {
		return nil, err
	}
	return closeServer, nil
}

func startClient(cfg config, name string, p *printer) (*client.Client, error) {
	cli, err := client.New(client.Options{SocketFile: cfg.socket})
	if err != nil {
		return nil, err
	}
	cli.On("connect", func() { p.say("client %s connected", name) })
	cli.On("message", func(msg any, topic string) {
		p.say("server -> client %s [%s] %v", name, topic, msg)
	})
	cli.On("message.hello", func(greeting any) {
		cli.Send("helloback", map[string]any{"clientName": name, "original": greeting})
	})
	cli.On("error", func(err error) {
		// A hello can arrive while we are closing; answering it then is
		// refused with message.ErrSendAfterClose, which is fine at shutdown.
		if errors.Is(err, message.ErrSendAfterClose) {
			return
		}
		p.say("client %s error: %v", name, err)
	})
	return cli, cli.Connect()
}
