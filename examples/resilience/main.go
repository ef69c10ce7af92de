// Command resilience is the Go version of the Node package socket-ipc's
// resilience example: a server with a terrible uptime record and a client
// that narrates everything it sees while it keeps sending a counter.
//
// The server is up for a while (--up, 1.5 s), closes, stays down (--down,
// 1 s), and a new one takes its place, again and again; each one greets the
// clients that connect and prints the counters it hears. The client never
// gives up: while there is no server it reports each failed attempt
// ("connectError") and tries again after a short random delay; when the
// server goes away it reports "disconnect", and when a new one is up,
// "connect" followed by "reconnect". Counters it could not send while there
// was no server are sent once it is back, so the numbers go on without a gap.
//
// The client's delays take Node's two forms: --retry 1s is Node's
// `retryDelay: 1000` (always that long), and --retry 100ms,500ms is Node's
// `retryDelay: {min: 100, max: 500}` (a random wait from min to max, both
// included); the same for --reconnect.
//
// With no flags it makes its own socket file in a temporary folder, runs
// both sides for about six seconds and exits:
//
//	go run ./examples/resilience
//
// For real use, name the socket and run the two sides apart, each until
// interrupted:
//
//	go run ./examples/resilience --socket /tmp/res.sock --role server --forever
//	go run ./examples/resilience --socket /tmp/res.sock --role client --forever
//
// Either side may be the Node example instead (examples/resilience/server.js
// or client.js in @crussell52/socket-ipc, with its SOCKET_FILE constant set
// to the same path). The Node server closes 10 s after its first client
// and comes back 5 s later; the Node client waits 5 to 10 s before it
// reconnects (--reconnect 5s,10s does the same here).
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
	"syscall"
	"time"

	"github.com/socketipc/socketipc/backoff"
	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
)

type config struct {
	socket    string
	role      string        // all, server or client
	up        time.Duration // how long each server lives
	down      time.Duration // how long there is no server between two lives
	interval  time.Duration // between two counters sent by the client
	retry     delay         // the client's wait after a failed attempt
	reconnect delay         // the client's wait after a disconnect
	duration  time.Duration // 0: until interrupted
}

func main() {
	var cfg config
	var forever bool
	flag.StringVar(&cfg.socket, "socket", "", "socket file (default: a new one in a temporary folder)")
	flag.StringVar(&cfg.role, "role", "all", "what to run: all, server or client")
	flag.DurationVar(&cfg.up, "up", 1500*time.Millisecond, "how long each server stays up")
	flag.DurationVar(&cfg.down, "down", time.Second, "how long the server stays down")
	flag.DurationVar(&cfg.interval, "interval", 250*time.Millisecond, "time between two counters from the client")
	cfg.retry = delay{60 * time.Millisecond, 300 * time.Millisecond}
	cfg.reconnect = delay{40 * time.Millisecond, 200 * time.Millisecond}
	flag.Var(&cfg.retry, "retry", "client: wait after a failed connection attempt, `D` or `MIN,MAX` (Node's retryDelay: n or {min, max})")
	flag.Var(&cfg.reconnect, "reconnect", "client: wait after a disconnect, `D` or `MIN,MAX` (Node's reconnectDelay: n or {min, max})")
	flag.DurationVar(&cfg.duration, "duration", 6*time.Second, "how long to run")
	flag.BoolVar(&forever, "forever", false, "run until interrupted")
	flag.Parse()
	if forever {
		cfg.duration = 0
	}
	if cfg.socket == "" {
		dir, err := os.MkdirTemp("", "resilience")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer os.RemoveAll(dir)
		cfg.socket = filepath.Join(dir, "resilience.sock")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// delay is a client delay in Node's two forms: a fixed one (Node's
// `retryDelay: 1000`, here "1s") or a random one from min to max (Node's
// `{min: 100, max: 500}`, here "100ms,500ms").
type delay struct{ min, max time.Duration }

func (d *delay) String() string {
	if d.min == d.max {
		return d.min.String()
	}
	return d.min.String() + "," + d.max.String()
}

// Set parses "D" or "MIN,MAX" (flag.Value).
func (d *delay) Set(s string) error {
	first, last, isRange := strings.Cut(s, ",")
	lo, err := time.ParseDuration(strings.TrimSpace(first))
	if err != nil {
		return err
	}
	hi := lo
	if isRange {
		if hi, err = time.ParseDuration(strings.TrimSpace(last)); err != nil {
			return err
		}
	}
	if lo < 0 || hi < lo {
		return fmt.Errorf("%q: want D or MIN,MAX with 0 <= MIN <= MAX", s)
	}
	d.min, d.max = lo, hi
	return nil
}

// policy is the client's backoff.BackOff for d.
func (d delay) policy() backoff.BackOff {
	if d.min == d.max {
		return backoff.Constant(d.min)
	}
	return backoff.Random(d.min, d.max)
}

// printer serialises output lines from the server's and the client's events.
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
	switch cfg.role {
	case "all", "server", "client":
	default:
		return fmt.Errorf("--role must be all, server or client, not %q", cfg.role)
	}
	if cfg.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.duration)
		defer cancel()
	}
	p := &printer{out: out, start: time.Now()}
	p.say("socket file: %s", cfg.socket)

	// The server has its own stop signal so that, at the end, the client
	// closes first and does not narrate a last, artificial disconnect.
	srvCtx, stopServer := context.WithCancel(context.Background())
	defer stopServer()
	srvErr := make(chan error, 1)
	if cfg.role == "all" || cfg.role == "server" {
		go func() { srvErr <- serveBadly(srvCtx, cfg, p) }()
	} else {
		srvErr <- nil
	}

	if cfg.role == "all" || cfg.role == "client" {
		if cfg.role == "all" {
			// Start the client a moment early, so it first finds no server.
			p.say("client: starting")
		}
		if err := narrate(ctx, cfg, p); err != nil {
			stopServer()
			<-srvErr
			return err
		}
	} else {
		select {
		case <-ctx.Done():
		case err := <-srvErr:
			return err
		}
	}
	stopServer()
	return <-srvErr
}

// serveBadly runs one server after another: each is up for cfg.up, then
// there is none for cfg.down. It returns when ctx ends, closing the server
// that is up.
func serveBadly(ctx context.Context, cfg config, p *printer) error {
	if cfg.role == "all" {
		// Let the client find no server at first.
		if !sleep(ctx, cfg.down/2) {
			return nil
		}
	}
	for life := 1; ; life++ {
		srv, err := server.New(server.Options{SocketFile: cfg.socket})
		if err != nil {
			return err
		}
		tag := fmt.Sprintf("server (%d)", life)
		srv.On("listening", func() {
			p.say("%s: listening; it will close in %v", tag, cfg.up)
		})
		srv.On("connection", func(clientID string) {
			p.say("%s: client %s connected, saying hello", tag, short(clientID))
			srv.Send("hello", fmt.Sprintf("Hello, client %s! I am server %d.", short(clientID), life), clientID)
		})
		srv.On("message", func(msg any, topic, clientID string) {
			p.say("%s: heard [%s] %v from %s", tag, topic, msg, short(clientID))
		})
		srv.On("connectionClose", func(clientID string) {
			p.say("%s: client %s disconnected", tag, short(clientID))
		})
		srv.On("error", func(err error) { p.say("%s: error: %v", tag, err) })
		srv.On("close", func() { p.say("%s: closed", tag) })

		if err := srv.Listen(); err != nil {
			if life == 1 {
				return err // say, another server is live on that path
			}
			// The error was printed by the listener; try again next life.
		} else {
			sleep(ctx, cfg.up)
			p.say("%s: closing", tag)
			srv.Close()
		}
		if ctx.Err() != nil {
			return nil
		}
		p.say("no server for %v", cfg.down)
		if !sleep(ctx, cfg.down) {
			return nil
		}
	}
}

// narrate runs the client until ctx ends: it prints every event and sends
// a counter each interval, holding it back while there is no server.
func narrate(ctx context.Context, cfg config, p *printer) error {
	cli, err := client.New(client.Options{
		SocketFile:     cfg.socket,
		RetryDelay:     cfg.retry.policy(),
		ReconnectDelay: cfg.reconnect.policy(),
	})
	if err != nil {
		return err
	}
	cli.On("connectError", func(err error) { p.say("client: no server (%s)", reason(err)) })
	cli.On("connect", func() { p.say("client: connected to server") })
	cli.On("reconnect", func() { p.say("client: reconnected to server") })
	cli.On("disconnect", func() { p.say("client: disconnected from server") })
	cli.On("message", func(msg any, topic string) { p.say("client: heard [%s] %v", topic, msg) })
	cli.On("error", func(err error) {
		if errors.Is(err, message.ErrNoServer) {
			return // expected while the server is down; the sender below says so
		}
		p.say("client: error: %v", err)
	})
	cli.On("close", func() { p.say("client: closed") })
	if err := cli.Connect(); err != nil {
		return err
	}

	tick := time.NewTicker(cfg.interval)
	defer tick.Stop()
	n, holding := 1, false
	for {
		select {
		case <-ctx.Done():
			p.say("client: closing")
			cli.Close()
			return nil
		case <-tick.C:
		}
		switch err := cli.Send("count", n); {
		case err == nil:
			n++
			holding = false
		case errors.Is(err, message.ErrNoServer):
			if !holding {
				p.say("client: holding count %d until a server is back", n)
				holding = true
			}
		}
	}
}

// reason is the short cause of a connection error ("connection refused").
func reason(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}

func short(clientID string) string { return clientID[:8] }

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
