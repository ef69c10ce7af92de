package client_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/socketipc/socketipc/backoff"
	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
)

// A client connects, says hello, and prints the server's reply.
func ExampleNew() {
	dir, err := os.MkdirTemp("", "socketipc-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.sock")

	// The server: answers each hello with a hi.
	srv, err := server.New(server.Options{SocketFile: path})
	if err != nil {
		panic(err)
	}
	type hello struct {
		Name string `json:"name"`
	}
	srv.On("message.hello", func(msg hello, clientID string) {
		fmt.Println("server: hello from", msg.Name)
		srv.Send("hi", "hello, "+msg.Name, clientID)
	})
	if err := srv.Listen(); err != nil {
		panic(err)
	}
	defer srv.Close()

	// The client.
	cli, err := client.New(client.Options{SocketFile: path})
	if err != nil {
		panic(err)
	}
	done := make(chan struct{})
	cli.On("connect", func(conn *client.Conn) {
		fmt.Println("client: connected")
		cli.Send("hello", map[string]any{"name": "gopher"})
	})
	cli.On("message.hi", func(msg string) {
		fmt.Println("client: server says", msg)
		close(done)
	})
	cli.On("close", func() { fmt.Println("client: closed") })
	if err := cli.Connect(); err != nil {
		panic(err)
	}
	<-done
	cli.Close()

	// Output:
	// client: connected
	// server: hello from gopher
	// client: server says hello, gopher
	// client: closed
}

// A client started before its server keeps trying, and reconnects when the
// server restarts.
func Example_reconnect() {
	dir, err := os.MkdirTemp("", "socketipc-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "app.sock")

	cli, err := client.New(client.Options{
		SocketFile:     path,
		RetryDelay:     backoff.Constant(20 * time.Millisecond),
		ReconnectDelay: backoff.Random(10*time.Millisecond, 50*time.Millisecond),
	})
	if err != nil {
		panic(err)
	}
	failedOnce := make(chan struct{})
	failures := 0
	cli.On("connectError", func(err error) {
		if failures++; failures == 1 {
			fmt.Println("no server yet; retrying")
			close(failedOnce)
		}
	})
	connected := make(chan struct{}, 2)
	cli.On("connect", func() {
		fmt.Println("connected")
		connected <- struct{}{}
	})
	cli.On("disconnect", func() { fmt.Println("disconnected") })
	cli.On("reconnect", func() { fmt.Println("reconnected") })
	cli.Connect()
	<-failedOnce

	listen := func() *server.Server {
		srv, err := server.New(server.Options{SocketFile: path})
		if err != nil {
			panic(err)
		}
		accepted := make(chan struct{})
		srv.Once("connection", func() { close(accepted) })
		if err := srv.Listen(); err != nil {
			panic(err)
		}
		<-accepted
		return srv
	}
	srv := listen()
	<-connected
	srv.Close() // the server goes away...
	srv = listen()
	<-connected // ...and the client is back
	cli.Close()
	srv.Close()

	// Output:
	// no server yet; retrying
	// connected
	// disconnected
	// connected
	// reconnected
}

// Send fails while there is no connection: the error is returned (and
// emitted on "error"), and says what was not sent.
func ExampleClient_Send() {
	cli, err := client.New(client.Options{SocketFile: "/tmp/nobody-listens-here.sock"})
	if err != nil {
		panic(err)
	}
	defer cli.Close()
	emitted := make(chan error, 1)
	cli.On("error", func(err error) { emitted <- err })

	err = cli.Send("greeting", "hi")
	var se *message.SendError
	if errors.As(err, &se) && errors.Is(err, message.ErrNoServer) {
		fmt.Printf("not sent: %s %v\n", se.Topic, se.Message)
	}
	fmt.Println("error event:", errors.Is(<-emitted, message.ErrNoServer))
	// Output:
	// not sent: greeting hi
	// error event: true
}
