package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

const sendUsage = `Usage: socketipc send [flags] SOCKET TOPIC [JSON]

Connect to the socketipc server on the socket file SOCKET, send one message
under TOPIC and exit once it is written to the socket. The message is the
JSON text JSON, or stdin's whole content when JSON is absent or "-" (a JSON
text that starts with "-", such as -1, goes after "--"). Nothing is printed
on stdout.

If no server accepts the connection, send keeps trying (every 100ms) until
--timeout passes.

Flags:
  --timeout D    give up when no server has accepted within D, or the
                 message is not written within D after that (default 5s;
                 0: wait for the server forever, write within 5s)
  --legacy       frames end with "%EOM%", for Node socket-ipc before 0.4
  -v, --verbose  report each failed connection attempt on stderr

Exit status: 0 the message was written, 1 failure (no server, the connection
ended before the message was written), 2 usage error (JSON is not valid JSON).
`

// retryEvery is how often send and connect try to reach a server that is
// not there yet.
const retryEvery = 100 * time.Millisecond

func runSend(ctx context.Context, t *term, args []string) int {
	f := newFlags("send", sendUsage, 5*time.Second, false)
	operands, code, ok := f.parse(t, args)
	if !ok {
		return code
	}
	if len(operands) < 2 || len(operands) > 3 {
		return t.usageError("want SOCKET TOPIC [JSON], got %d operands", len(operands))
	}
	socket, topic := operands[0], operands[1]
	payload, code, ok := readMessage(t, operands)
	if !ok {
		return code
	}

	timeout := f.timeout
	e := endpoint{socket: socket, legacy: f.legacy, flush: time.Duration(timeout)}
	c := newConnection(t, f.verbose)
	cli, err := startClient(e, retryEvery, c.hooks(nil))
	if err != nil {
		return t.startFailed(err)
	}
	if !c.awaitConnect(ctx, cli, socket, time.Duration(timeout)) {
		return exitFailure
	}
	if err := cli.send(topic, payload); err != nil {
		t.error(err)
		cli.closeWritten()
		return exitFailure
	}
	if err := cli.closeWritten(); err != nil {
		t.error(err)
		return exitFailure
	}
	return exitOK
}

// readMessage checks the TOPIC operand and returns the message: the JSON
// operand, or stdin's whole content when it is absent or "-". On a failure
// it reports it and returns the exit status (ok false).
func readMessage(t *term, operands []string) (payload []byte, code int, ok bool) {
	if operands[1] == "" {
		return nil, t.usageError("TOPIC is empty"), false
	}
	if len(operands) == 3 && operands[2] != "-" {
		payload = []byte(operands[2])
	} else {
		var err error
		if payload, err = io.ReadAll(io.LimitReader(t.stdin, maxMessage+1)); err != nil {
			t.errorf("reading the message from stdin: %v", err)
			return nil, exitFailure, false
		}
		if len(payload) > maxMessage {
			return nil, t.usageError("the message on stdin is larger than %d bytes", maxMessage), false
		}
	}
	if err := checkJSON(payload); err != nil {
		return nil, t.usageError("the message is not valid JSON: %v", err), false
	}
	return payload, 0, true
}

// checkJSON says why b is not one JSON text, if it is not.
func checkJSON(b []byte) error {
	if json.Valid(b) {
		return nil
	}
	var v json.RawMessage
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	return fmt.Errorf("not one JSON text")
}

// connection follows a client's connection for send and connect.
type connection struct {
	t       *term
	verbose bool

	connected chan struct{}
	gone      chan struct{} // the server ended the connection

	mu      sync.Mutex
	lastErr error // of the last failed connection attempt
	once    sync.Once
}

func newConnection(t *term, verbose bool) *connection {
	return &connection{t: t, verbose: verbose, connected: make(chan struct{}), gone: make(chan struct{})}
}

// hooks are the client's hooks; message may be nil (messages are ignored).
func (c *connection) hooks(message func(payload []byte, topic string)) clientHooks {
	if message == nil {
		message = func([]byte, string) {}
	}
	return clientHooks{
		connect: func() {
			if c.verbose {
				c.t.notef("connected")
			}
			close(c.connected)
		},
		disconnect: func() { c.once.Do(func() { close(c.gone) }) },
		connectError: func(err error) {
			if c.verbose {
				c.t.notef("connection attempt failed: %v", err)
			}
			c.mu.Lock()
			c.lastErr = err
			c.mu.Unlock()
		},
		message: message,
		err:     c.t.error,
	}
}

// awaitConnect waits for the connection; on failure it reports why,
// closes cli and returns false.
func (c *connection) awaitConnect(ctx context.Context, cli *ipcClient, socket string, timeout time.Duration) bool {
	expired, stopTimer := deadline(timeout)
	defer stopTimer()
	select {
	case <-c.connected:
		return true
	case <-expired:
		c.mu.Lock()
		why := c.lastErr
		c.mu.Unlock()
		if why != nil {
			c.t.errorf("no server accepted a connection to %s within %v; the last attempt failed: %v", socket, timeout, why)
		} else {
			c.t.errorf("no server accepted a connection to %s within %v", socket, timeout)
		}
	case <-ctx.Done():
		c.t.errorf("interrupted before a server accepted a connection to %s", socket)
	}
	cli.closeWritten()
	return false
}
