// Command goplugin is the Go plugin of the pluginhost example: a socketipc
// client that introduces itself to the host and does text jobs for it.
//
// The host (examples/pluginhost) builds and starts it; it can also be run by
// hand against a running host:
//
//	go run ./examples/pluginhost/goplugin --socket /tmp/host.sock
//
// The conversation, in JSON messages over the socket:
//
//	plugin -> host  hello   {"name":"go-plugin","capabilities":["upper","reverse"],"pid":1234}
//	host -> plugin  job     {"id":7,"op":"upper","input":"socket files"}
//	plugin -> host  result  {"id":7,"output":"SOCKET FILES"}   (or {"id":7,"error":"..."})
//	host -> plugin  request "status", answered with {"runtime":"go1.x","jobs":3}
//	host -> plugin  shutdown
//
// It says hello again after every reconnect, since the host forgets a
// plugin whose connection ends. It exits on "shutdown", when its standard
// input closes (the host went away), on SIGINT/SIGTERM, or after --max-jobs
// jobs (a plugin that retires, for the host to replace).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/socketipc/socketipc/backoff"
	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/message"
)

// Hello introduces a plugin to the host.
type Hello struct {
	Name         string   `json:"name"`
	Capabilities []string `json:"capabilities"`
	PID          int      `json:"pid"`
}

// Job is work from the host.
type Job struct {
	ID    int             `json:"id"`
	Op    string          `json:"op"`
	Input json.RawMessage `json:"input"`
}

// Result answers a Job.
type Result struct {
	ID     int    `json:"id"`
	Output any    `json:"output,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Status answers the host's "status" request.
type Status struct {
	Runtime string `json:"runtime"`
	Jobs    int    `json:"jobs"`
}

var ops = map[string]func(string) string{
	"upper": strings.ToUpper,
	"reverse": func(s string) string {
		r := []rune(s)
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		return string(r)
	},
}

func do(job Job) Result {
	op, ok := ops[job.Op]
	if !ok {
		return Result{ID: job.ID, Error: fmt.Sprintf("go-plugin can't %q", job.Op)}
	}
	var in string
	if err := json.Unmarshal(job.Input, &in); err != nil {
		return Result{ID: job.ID, Error: fmt.Sprintf("%s wants a string: %v", job.Op, err)}
	}
	return Result{ID: job.ID, Output: op(in)}
}

func main() {
	socket := flag.String("socket", "", "the host's socket file (required)")
	name := flag.String("name", "go-plugin", "the name to introduce myself with")
	maxJobs := flag.Int("max-jobs", 0, "retire after this many jobs (0: never)")
	flag.Parse()
	if *socket == "" {
		fmt.Fprintln(os.Stderr, "goplugin: --socket is required")
		os.Exit(2)
	}
	say := func(format string, args ...any) { fmt.Printf(format+"\n", args...) }

	cli, err := client.New(client.Options{
		SocketFile:     *socket,
		RetryDelay:     backoff.Constant(100 * time.Millisecond),
		ReconnectDelay: backoff.Constant(100 * time.Millisecond),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "goplugin:", err)
		os.Exit(2)
	}

	quit := make(chan string, 1)
	var once sync.Once
	stop := func(why string) { once.Do(func() { quit <- why }) }

	caps := []string{"upper", "reverse"} // the keys of ops
	cli.On("connect", func() {
		say("connected; saying hello")
		cli.Send("hello", Hello{Name: *name, Capabilities: caps, PID: os.Getpid()})
	})
	cli.On("disconnect", func() { say("lost the host; reconnecting") })
	done := 0
	cli.On("message.job", func(job Job) {
		cli.Send("result", do(job))
		done++
		if *maxJobs > 0 && done >= *maxJobs {
			stop(fmt.Sprintf("did %d jobs, retiring", done))
		}
	})
	// The host's requests: the handler runs on the event loop, as the
	// listeners do, so it reads done without a lock.
	client.Handle(cli, "status", func(ctx context.Context, _ any) (Status, error) {
		return Status{Runtime: runtime.Version(), Jobs: done}, nil
	})
	cli.On("message.shutdown", func() { stop("the host says shut down") })
	cli.On("error", func(err error) {
		if errors.Is(err, message.ErrNoServer) {
			return // a result for a host that went away: nobody to tell
		}
		say("error: %v", err)
	})

	go func() {
		io.Copy(io.Discard, os.Stdin) // returns when the host closes our stdin or dies
		stop("the host went away (stdin closed)")
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() { stop(fmt.Sprint("got ", <-sig)) }()

	if err := cli.Connect(); err != nil {
		fmt.Fprintln(os.Stderr, "goplugin:", err)
		os.Exit(2)
	}
	say("%s; bye", <-quit)
	cli.Close() // sends what is still queued (the last result) first
}
