package server_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/server"
)

// A server greets the clients that say hello; here one Go client talks to
// it over a socket file in a temporary folder.
func ExampleServer() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	socketFile := filepath.Join(dir, "app.sock")

	srv, err := server.New(server.Options{SocketFile: socketFile, SocketMode: 0o600})
	if err != nil {
		panic(err)
	}
	srv.On("error", func(err error) { fmt.Println("server error:", err) })
	srv.On("connection", func(clientID string, conn *server.Conn) {
		cred, _ := conn.PeerCred()
		fmt.Println("server: a client connected; same process:", int(cred.PID) == os.Getpid())
	})
	// The message is decoded into the listener's parameter type.
	type hello struct {
		Name string `json:"name"`
	}
	srv.On("message.hello", func(msg hello, clientID string) {
		fmt.Printf("server: %s says hello\n", msg.Name)
		srv.Send("welcome", map[string]any{"greeting": "hi " + msg.Name, "clients": len(srv.ClientIDs())}, clientID)
	})
	if err := srv.Listen(); err != nil {
		panic(err)
	}

	cli, err := client.New(client.Options{SocketFile: socketFile})
	if err != nil {
		panic(err)
	}
	done := make(chan struct{})
	cli.On("connect", func() { cli.Send("hello", map[string]any{"name": "gopher"}) })
	// A listener taking any gets the plain JSON value, as in Node.
	cli.On("message", func(msg any, topic string) {
		fmt.Printf("client: %s %v\n", topic, msg)
		close(done)
	})
	if err := cli.Connect(); err != nil {
		panic(err)
	}
	<-done
	cli.Close()
	srv.Close()
	_, err = os.Stat(socketFile)
	fmt.Println("socket file removed:", os.IsNotExist(err))

	// Output:
	// server: a client connected; same process: true
	// server: gopher says hello
	// client: welcome map[clients:1 greeting:hi gopher]
	// socket file removed: true
}

// New rejects a socket file that can't be one, as the Node package does.
func ExampleNew() {
	for _, path := range []string{"", "8080", "/tmp/app.sock"} {
		_, err := server.New(server.Options{SocketFile: path})
		fmt.Printf("%q: invalid %v\n", path, errors.Is(err, server.ErrInvalidSocketFile))
	}
	// Output:
	// "": invalid true
	// "8080": invalid true
	// "/tmp/app.sock": invalid false
}
