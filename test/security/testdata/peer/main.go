// Command peer is the other process of the security tests, often run as
// another user. It reports what it sees as JSON lines on stdout, one
// {"event": ...} object a line, and runs until its stdin closes.
//
//	peer serve SOCKET [-mode 0600] [-umask 077] [-allow-uid UID]
//	peer client SOCKET [-allow-uid UID]
//	peer dial SOCKET
//
// serve listens (its first line is "listening" or "listenError") and sends
// each client a "welcome" with the credentials it saw; client connects with
// short retry and reconnect delays and reports its events; dial makes one
// plain connection attempt, reports it and exits.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/socketipc/socketipc/backoff"
	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/server"
)

// Report is one line of output.
type Report struct {
	Event string          `json:"event"`
	ID    string          `json:"id,omitempty"`    // a client id (serve)
	Topic string          `json:"topic,omitempty"` // of a message
	Msg   json.RawMessage `json:"msg,omitempty"`   // of a message
	Err   string          `json:"err,omitempty"`
	Errno string          `json:"errno,omitempty"` // dial: the errno's name
	Cred  *Cred           `json:"cred,omitempty"`  // the peer's, as the kernel gave them
	Self  Cred            `json:"self"`            // this process
}

// Cred is a process's credentials.
type Cred struct {
	PID int32  `json:"pid"`
	UID uint32 `json:"uid"`
	GID uint32 `json:"gid"`
}

var (
	outMu sync.Mutex
	self  = Cred{PID: int32(os.Getpid()), UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
)

func report(r Report) {
	r.Self = self
	b, err := json.Marshal(r)
	if err != nil {
		panic(err)
	}
	outMu.Lock()
	defer outMu.Unlock()
	os.Stdout.Write(append(b, '\n'))
}

func credOf(c server.PeerCred, err error) (*Cred, string) {
	if err != nil {
		return nil, err.Error()
	}
	return &Cred{PID: c.PID, UID: c.UID, GID: c.GID}, ""
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: peer serve|client|dial SOCKET [flags]")
		os.Exit(2)
	}
	cmd, path := os.Args[1], os.Args[2]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	mode := fs.String("mode", "0", "serve: SocketMode, octal")
	umask := fs.String("umask", "", "serve: the umask to set first, octal")
	allowUID := fs.Int("allow-uid", -1, "serve, client: AllowPeer accepts only this uid")
	_ = fs.Parse(os.Args[3:])
	var allow func(server.PeerCred) error
	if *allowUID >= 0 {
		allow = func(c server.PeerCred) error {
			if c.UID != uint32(*allowUID) {
				return fmt.Errorf("uid %d is not %d", c.UID, *allowUID)
			}
			return nil
		}
	}
	switch cmd {
	case "serve":
		if *umask != "" {
			m, err := strconv.ParseUint(*umask, 8, 32)
			if err != nil {
				fail(err)
			}
			syscall.Umask(int(m))
		}
		m, err := strconv.ParseUint(*mode, 8, 32)
		if err != nil {
			fail(err)
		}
		serve(path, os.FileMode(m), allow)
	case "client":
		var allowServer func(client.PeerCred) error
		if allow != nil {
			allowServer = func(c client.PeerCred) error { return allow(server.PeerCred(c)) }
		}
		connect(path, allowServer)
	case "dial":
		dial(path)
	default:
		fail(fmt.Errorf("unknown command %q", cmd))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "peer:", err)
	os.Exit(2)
}

// untilStdinCloses blocks until the test closes our stdin (or dies).
func untilStdinCloses() { _, _ = io.Copy(io.Discard, os.Stdin) }

func serve(path string, mode os.FileMode, allow func(server.PeerCred) error) {
	srv, err := server.New(server.Options{SocketFile: path, SocketMode: mode, AllowPeer: allow})
	if err != nil {
		fail(err)
	}
	srv.On("error", func(err error) { report(Report{Event: "error", Err: err.Error()}) })
	srv.On("connection", func(id string, c *server.Conn) {
		cred, credErr := credOf(c.PeerCred())
		report(Report{Event: "connection", ID: id, Cred: cred, Err: credErr})
		if err := srv.Send("welcome", cred, id); err != nil {
			report(Report{Event: "sendError", ID: id, Err: err.Error()})
		}
	})
	srv.On("connectionClose", func(id string) { report(Report{Event: "connectionClose", ID: id}) })
	srv.On("message", func(msg json.RawMessage, topic, id string) {
		report(Report{Event: "message", ID: id, Topic: topic, Msg: msg})
	})
	if err := srv.Listen(); err != nil {
		report(Report{Event: "listenError", Err: err.Error(), Errno: errnoName(err)})
		untilStdinCloses()
		return
	}
	report(Report{Event: "listening"})
	untilStdinCloses()
	report(Report{Event: "close", Err: errString(srv.Close())})
}

func connect(path string, allow func(client.PeerCred) error) {
	cli, err := client.New(client.Options{
		SocketFile:     path,
		RetryDelay:     backoff.Constant(20 * time.Millisecond),
		ReconnectDelay: backoff.Constant(20 * time.Millisecond),
		AllowPeer:      allow,
	})
	if err != nil {
		fail(err)
	}
	connected := func(event string) func(c *client.Conn) {
		return func(c *client.Conn) {
			cred, err := c.PeerCred()
			cred2, credErr := credOf(server.PeerCred(cred), err)
			report(Report{Event: event, Cred: cred2, Err: credErr})
		}
	}
	cli.On("connect", connected("connect"))
	cli.On("connect", func() { _ = cli.Send("hello", self) })
	cli.On("reconnect", connected("reconnect"))
	cli.On("disconnect", func() { report(Report{Event: "disconnect"}) })
	cli.On("connectError", func(err error) { report(Report{Event: "connectError", Err: err.Error()}) })
	cli.On("error", func(err error) { report(Report{Event: "error", Err: err.Error()}) })
	cli.On("message", func(msg json.RawMessage, topic string) {
		report(Report{Event: "message", Topic: topic, Msg: msg})
	})
	if err := cli.Connect(); err != nil {
		fail(err)
	}
	report(Report{Event: "started"})
	untilStdinCloses()
	report(Report{Event: "close", Err: errString(cli.Close())})
}

func dial(path string) {
	nc, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		report(Report{Event: "dialError", Err: err.Error(), Errno: errnoName(err)})
		return
	}
	nc.Close()
	report(Report{Event: "dialed"})
}

func errnoName(err error) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return ""
	}
	switch errno {
	case syscall.EACCES:
		return "EACCES"
	case syscall.EPERM:
		return "EPERM"
	case syscall.ECONNREFUSED:
		return "ECONNREFUSED"
	case syscall.ENOENT:
		return "ENOENT"
	case syscall.EADDRINUSE:
		return "EADDRINUSE"
	}
	return fmt.Sprintf("errno %d", int(errno))
}
