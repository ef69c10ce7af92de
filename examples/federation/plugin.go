package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/socketipc/socketipc/client"
)

// runPlugin is the Go plugin: a socketipc client of its host that sends
// news when told, reports the news it gets, answers "describe", "upper" and
// "wordcount" requests (from its host, or from plugins of the other host
// through NATS), and asks a request when told.
func runPlugin(ctx context.Context, cfg config) error {
	me := cfg.host + "/" + cfg.name
	c, err := client.New(client.Options{SocketFile: cfg.socket})
	if err != nil {
		return err
	}
	defer c.Close()
	send := func(topic string, msg any) {
		if err := c.Send(topic, msg); err != nil {
			fmt.Println("error:", err)
		}
	}
	tell := func(kind, format string, args ...any) {
		send("report", report{Kind: kind, Text: fmt.Sprintf(format, args...)})
	}
	c.On(client.EventConnect, func() { send("hello", hello{Name: cfg.name}) })
	c.On(client.EventError, func(err error) { fmt.Println("error:", err) })
	client.OnMessage(c, "news", func(n news) { tell("news", "got news from %s: %q", n.From, n.Text) })

	client.Handle(c, "describe", func(_ context.Context, req map[string]string) (description, error) {
		tell("answered", "answered describe for the %s", req["asker"])
		return description{Who: me, Runtime: runtime.Version()}, nil
	})
	client.Handle(c, "upper", func(_ context.Context, s string) (string, error) {
		tell("answered", "answered upper(%q)", s)
		return strings.ToUpper(s), nil
	})
	client.Handle(c, "wordcount", func(_ context.Context, s string) (int, error) {
		tell("answered", "answered wordcount(%q)", s)
		return len(strings.Fields(s)), nil
	})

	var asks sync.WaitGroup
	defer asks.Wait()
	client.OnMessage(c, "cmd", func(cmd command) {
		switch cmd.Do {
		case "news":
			send("news", news{From: me, Text: cmd.Text})
		case "ask":
			// A request waits for its reply, which the event loop this
			// listener runs on delivers: ask from another goroutine.
			asks.Add(1)
			go func() {
				defer asks.Done()
				rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				var out any
				if err := c.Request(rctx, cmd.Topic, cmd.Input, &out); err != nil {
					tell("asked", "asked %s(%q): failed: %v", cmd.Topic, cmd.Input, err)
					return
				}
				tell("asked", "asked %s(%q) = %#v (answered on the other host)", cmd.Topic, cmd.Input, out)
			}()
		}
	})
	quit := make(chan string, 3)
	c.On("message.shutdown", func() { quit <- "the host says shut down" })
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		quit <- "the host went away (stdin closed)"
	}()
	if err := c.Connect(); err != nil {
		return err
	}
	select {
	case <-quit:
	case <-ctx.Done():
	}
	return c.Close()
}
