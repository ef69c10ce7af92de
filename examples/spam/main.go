// Command spam is the Go version of the Node package socket-ipc's spam
// example: clients that send messages as fast as they can, and a server
// that prints how many messages per second it receives.
//
// A client sends until its send queue is full (Send fails with
// message.ErrQueueFull), waits for the "drain" event that says the queue has
// emptied, and goes on; the client's queue is kept small here (--queue) so
// that this pacing shows, and memory stays bounded whatever the rate. With
// --rate N each client sends about N messages per second instead. Each
// message is "<counter>:<32 random letters>" under the topic "hello", as in
// the Node example.
//
// With no flags it makes its own socket file in a temporary folder, runs a
// server and one client for about four seconds and exits:
//
//	go run ./examples/spam
//	go run ./examples/spam --clients 3 --rate 20000
//
// For real use, name the socket and run the two sides apart, each until
// interrupted:
//
//	go run ./examples/spam --socket /tmp/spam.sock --role server --forever
//	go run ./examples/spam --socket /tmp/spam.sock --role client --forever
//
// Either side may be the Node example instead (examples/spam/server.js or
// client.js in @crussell52/socket-ipc, with its SOCKET_FILE constant set to
// the same path).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
)

type config struct {
	socket   string
	role     string        // all, server or client
	clients  int           // how many clients (roles all and client)
	rate     int           // messages per second per client; 0: as fast as possible
	queue    int           // each client's send queue limit, in bytes
	every    time.Duration // between two reports
	duration time.Duration // 0: until interrupted
}

func main() {
	var cfg config
	var forever bool
	flag.StringVar(&cfg.socket, "socket", "", "socket file (default: a new one in a temporary folder)")
	flag.StringVar(&cfg.role, "role", "all", "what to run: all, server or client")
	flag.IntVar(&cfg.clients, "clients", 1, "how many clients to run")
	flag.IntVar(&cfg.rate, "rate", 0, "messages per second per client (0: as fast as possible)")
	flag.IntVar(&cfg.queue, "queue", 1<<20, "each client's send queue limit in bytes")
	flag.DurationVar(&cfg.every, "every", time.Second, "time between two reports")
	flag.DurationVar(&cfg.duration, "duration", 4*time.Second, "how long to run")
	flag.BoolVar(&forever, "forever", false, "run until interrupted")
	flag.Parse()
	if forever {
		cfg.duration = 0
	}
	if cfg.socket == "" {
		dir, err := os.MkdirTemp("", "spam")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer os.RemoveAll(dir)
		cfg.socket = filepath.Join(dir, "spam.sock")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// printer serialises output lines.
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
	if cfg.clients < 1 || cfg.rate < 0 || cfg.every <= 0 {
		return errors.New("--clients must be at least 1, --rate at least 0 and --every positive")
	}
	if cfg.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.duration)
		defer cancel()
	}
	p := &printer{out: out, start: time.Now()}
	p.say("socket file: %s", cfg.socket)

	var srv *server.Server
	var reporter sync.WaitGroup
	if cfg.role == "all" || cfg.role == "server" {
		var err error
		if srv, err = startServer(ctx, cfg, p, &reporter); err != nil {
			return err
		}
	}
	var flooders sync.WaitGroup
	var clients []*client.Client
	if cfg.role == "all" || cfg.role == "client" {
		for i := 1; i <= cfg.clients; i++ {
			cli, err := startClient(ctx, cfg, i, p, &flooders)
			if err != nil {
				return err
			}
			clients = append(clients, cli)
		}
	}
	<-ctx.Done()
	p.say("stopping")
	flooders.Wait()
	for _, cli := range clients {
		cli.Close() // flushes what is still queued
	}
	if srv != nil {
		srv.Close()
		reporter.Wait()
	}
	return nil
}

// startServer listens and reports, every cfg.every, the messages received
// per second and the number of clients.
func startServer(ctx context.Context, cfg config, p *printer, reporter *sync.WaitGroup) (*server.Server, error) {
	srv, err := server.New(server.Options{SocketFile: cfg.socket})
	if err != nil {
		return nil, err
	}
	// Listeners run one at a time, but the report runs on its own
	// goroutine, hence the atomics.
	var count, clients atomic.Int64
	srv.On("listening", func() { p.say("server: listening") })
	srv.On("connection", func() { clients.Add(1) })
	srv.On("connectionClose", func() { clients.Add(-1) })
	// A listener without parameters: the message is not even decoded.
	srv.On("message", func() { count.Add(1) })
	srv.On("error", func(err error) { p.say("server: error: %v", err) })
	srv.On("close", func() { p.say("server: closed") })
	if err := srv.Listen(); err != nil {
		return nil, err
	}
	reporter.Add(1)
	go func() {
		defer reporter.Done()
		tick := time.NewTicker(cfg.every)
		defer tick.Stop()
		last := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				n := count.Swap(0)
				perSecond := float64(n) / now.Sub(last).Seconds()
				last = now
				p.say("server: ~%.0f messages/s (%d in the last %v) from %d client(s)", perSecond, n, cfg.every, clients.Load())
			}
		}
	}()
	return srv, nil
}

// startClient connects a client and starts its flooding goroutine.
func startClient(ctx context.Context, cfg config, num int, p *printer, flooders *sync.WaitGroup) (*client.Client, error) {
	cli, err := client.New(client.Options{SocketFile: cfg.socket, MaxQueueBytes: cfg.queue})
	if err != nil {
		return nil, err
	}
	// wake is poked when sending may succeed again: on connect, and on
	// drain (the queue emptied after refusing a message).
	wake := make(chan struct{}, 1)
	poke := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	cli.On("connect", func() { p.say("client %d: connected, flooding", num); poke() })
	cli.On("disconnect", func() { p.say("client %d: server went away", num) })
	cli.On("drain", poke)
	cli.On("error", func(err error) {
		if errors.Is(err, message.ErrQueueFull) || errors.Is(err, message.ErrNoServer) {
			return // flow control: the flooder waits for wake
		}
		p.say("client %d: error: %v", num, err)
	})
	if err := cli.Connect(); err != nil {
		return nil, err
	}
	flooders.Add(1)
	go func() {
		defer flooders.Done()
		flood(ctx, cfg, num, cli, wake, p)
	}()
	return cli, nil
}

// flood sends until ctx ends, as fast as the queue takes it or at cfg.rate.
func flood(ctx context.Context, cfg config, num int, cli *client.Client, wake <-chan struct{}, p *printer) {
	// Like the Node example: 1000 random strings of 32 letters.
	data := make([]string, 1000)
	for i := range data {
		b := make([]byte, 32)
		for j := range b {
			b[j] = byte('a' + rand.IntN(26))
		}
		data[i] = string(b)
	}
	report := time.NewTicker(cfg.every)
	defer report.Stop()
	var sent, sentSinceReport int
	start := time.Now()
	var msg []byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-report.C:
			if cfg.role == "client" {
				p.say("client %d: sent %d in the last %v", num, sentSinceReport, cfg.every)
			}
			sentSinceReport = 0
		default:
		}
		if cfg.rate > 0 {
			due := start.Add(time.Duration(sent) * time.Second / time.Duration(cfg.rate))
			if wait := time.Until(due); wait > 0 {
				if !sleep(ctx, wait) {
					return
				}
			} else if wait < -time.Second {
				start = time.Now() // after an outage, don't burst to catch up
				sent = 0
			}
		}
		msg = strconv.AppendInt(msg[:0], int64(sent), 10)
		msg = append(msg, ':')
		msg = append(msg, data[rand.IntN(len(data))]...)
		switch err := cli.Send("hello", string(msg)); {
		case err == nil:
			sent++
			sentSinceReport++
		case errors.Is(err, message.ErrQueueFull), errors.Is(err, message.ErrNoServer):
			select {
			case <-wake:
			case <-ctx.Done():
				return
			}
		default:
			return // closed; the error listener printed why
		}
	}
}

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
