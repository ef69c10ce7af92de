package main

// Every call into the socketipc library is in this file: the subcommands
// see only ipcServer, ipcClient and the hooks below, so the tool follows a
// change of the library's API here alone.

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"sync"
	"time"

	"github.com/socketipc/socketipc/backoff"
	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
)

// endpoint is what the flags say about the socket, for either side.
type endpoint struct {
	socket string
	legacy bool          // "%EOM%" framing, for socket-ipc before 0.4
	raw    bool          // hand listeners each frame whole instead of its payload
	mode   os.FileMode   // server: the socket file's permission bits; 0 leaves them to the umask
	flush  time.Duration // how long closing waits for what was sent to be written; 0: the library's default
}

func (e endpoint) framing() message.Framing {
	if e.legacy {
		return message.LegacyFraming
	}
	return message.NulFraming
}

func (e endpoint) transcoder() message.Transcoder {
	if e.raw {
		return rawFrames{message.JSON}
	}
	return message.JSON
}

// rawFrames is the JSON transcoder, except that an incoming frame is never
// split: its payload is the whole frame as it arrived, malformed or not, so
// that --raw shows exactly what the peer wrote. Sending is unchanged.
type rawFrames struct{ message.Transcoder }

func (r rawFrames) SplitEnvelope(frame []byte) (topic, payload []byte, err error) {
	topic, _, err = r.Transcoder.SplitEnvelope(frame)
	if err != nil {
		topic = nil
	}
	return topic, frame, nil
}

// serverHooks receive a server's events, one at a time.
type serverHooks struct {
	message    func(payload []byte, topic, clientID string)
	err        func(error)
	connection func(clientID string, opened bool) // nil: not reported
}

type ipcServer struct{ srv *server.Server }

// startServer binds the socket file and starts accepting clients.
func startServer(e endpoint, h serverHooks) (*ipcServer, error) {
	srv, err := server.New(server.Options{
		SocketFile:   e.socket,
		SocketMode:   e.mode,
		Framing:      e.framing(),
		Transcoder:   e.transcoder(),
		FlushTimeout: e.flush,
	})
	if err != nil {
		return nil, err
	}
	srv.On("error", func(err error) { h.err(err) })
	srv.On("message", func(msg json.RawMessage, topic string, clientID string) {
		h.message(msg, topic, clientID)
	})
	if h.connection != nil {
		srv.On("connection", func(clientID string) { h.connection(clientID, true) })
		srv.On("connectionClose", func(clientID string) { h.connection(clientID, false) })
	}
	if err := srv.Listen(); err != nil {
		srv.Close() // delivers the events Listen emitted before it returns
		return nil, err
	}
	return &ipcServer{srv}, nil
}

func (s *ipcServer) close() error { return s.srv.Close() }

// clientHooks receive a client's events, one at a time.
type clientHooks struct {
	connect      func() // the connection is up: sending may start
	disconnect   func() // the server ended the connection; there is no reconnect
	connectError func(error)
	message      func(payload []byte, topic string)
	err          func(error) // errors not also returned by a call
}

// ipcClient is a client that connects once: it retries until a server
// accepts, but does not reconnect once that connection ends, so that what
// it sent went to one server, and send can tell whether it was written.
type ipcClient struct {
	cli     *client.Client
	drained chan struct{} // a send queue that was full has emptied
	gone    chan struct{} // closed by disconnect or close: a full queue will not drain

	mu       sync.Mutex
	conn     *client.Conn
	closing  bool // errors closing emits are summed up by closeWritten's
	goneOnce sync.Once
}

// startClient starts connecting; hooks.connect says when it is done.
func startClient(e endpoint, retry time.Duration, h clientHooks) (*ipcClient, error) {
	cli, err := client.New(client.Options{
		SocketFile:     e.socket,
		RetryDelay:     backoff.Constant(retry),
		ReconnectDelay: never{},
		Framing:        e.framing(),
		Transcoder:     e.transcoder(),
		FlushTimeout:   e.flush,
	})
	if err != nil {
		return nil, err
	}
	c := &ipcClient{cli: cli, drained: make(chan struct{}, 1), gone: make(chan struct{})}
	cli.On("error", func(err error) {
		c.mu.Lock()
		closing := c.closing
		c.mu.Unlock()
		var sendErr *message.SendError
		switch {
		case closing:
		case errors.As(err, &sendErr), isRequestError(err):
			// Send or Request returned it too; it is reported from there.
		case errors.Is(err, client.ErrGaveUp):
			// never{} after a disconnect, which hooks.disconnect reported.
		default:
			h.err(err)
		}
	})
	cli.On("connectError", func(err error) { h.connectError(err) })
	cli.On("connect", func(conn *client.Conn) {
		c.mu.Lock()
		c.conn = conn
		c.mu.Unlock()
		h.connect()
	})
	cli.On("disconnect", func() {
		c.markGone()
		h.disconnect()
	})
	cli.On("message", func(msg json.RawMessage, topic string) { h.message(msg, topic) })
	cli.On("drain", func() {
		select {
		case c.drained <- struct{}{}:
		default:
		}
	})
	if err := cli.Connect(); err != nil {
		cli.Close()
		return nil, err
	}
	return c, nil
}

func (c *ipcClient) markGone() { c.goneOnce.Do(func() { close(c.gone) }) }

// send queues one message whose payload is JSON text; when the send queue
// is full it waits for it to drain, so a fast stdin is paced by the socket
// instead of losing messages.
func (c *ipcClient) send(topic string, payload []byte) error {
	for {
		err := c.cli.Send(topic, json.RawMessage(payload))
		if !errors.Is(err, message.ErrQueueFull) {
			return err
		}
		select {
		case <-c.drained:
		case <-c.gone:
			return err
		}
	}
}

// request sends a request whose payload is JSON text and returns the
// reply's JSON text ("null" when the peer sent none).
func (c *ipcClient) request(ctx context.Context, topic string, payload []byte) (json.RawMessage, error) {
	var reply json.RawMessage
	err := c.cli.Request(ctx, topic, json.RawMessage(payload), &reply)
	if err == nil && len(reply) == 0 {
		reply = json.RawMessage("null")
	}
	return reply, err
}

// remoteError returns the text of a failure reply, if err is one.
func remoteError(err error) (string, bool) {
	var re *message.RemoteError
	if errors.As(err, &re) {
		return re.Message, true
	}
	return "", false
}

// isRequestError tells the errors that Request returns itself.
func isRequestError(err error) bool {
	_, remote := remoteError(err)
	return remote || errors.Is(err, message.ErrRequestInterrupted) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// closeWritten closes the client and reports whether everything send
// accepted was written to the socket: an error says what was not.
func (c *ipcClient) closeWritten() error {
	c.markGone()
	c.mu.Lock()
	c.closing = true
	conn := c.conn
	c.mu.Unlock()
	err := c.cli.Close()
	if conn == nil {
		return err
	}
	// The connection's Close waits for it to end and says how many bytes
	// it could not write, whether the flush timed out or the server left.
	if cerr := conn.Close(); cerr != nil {
		return cerr
	}
	return err
}

// never is a delay policy that gives up at once: no reconnect.
type never struct{}

func (never) NextBackOff() time.Duration { return backoff.Stop }
func (never) Reset()                     {}

// isBadSocketPath tells an unusable SOCKET operand (empty, too long, ...)
// from a failure to listen or connect.
func isBadSocketPath(err error) bool {
	return errors.Is(err, server.ErrInvalidSocketFile) || errors.Is(err, client.ErrInvalidSocketFile)
}

// maxMessage bounds a message read from stdin: a frame larger than the
// peers' default limit would be refused by them anyway.
const maxMessage = message.DefaultMaxFrameSize
