package client

import (
	"fmt"
	"net"
	"time"

	"github.com/socketipc/socketipc/backoff"
	"github.com/socketipc/socketipc/internal/conn"
	"github.com/socketipc/socketipc/internal/endpoint"
)

// run owns the connection: it dials, retries, waits for the connection to
// end and reconnects, until Close or a policy's Stop. It is the one
// goroutine Connect starts; Close waits for it.
func (c *Client) run() {
	defer close(c.runDone)
	c.opts.RetryDelay.Reset()
	c.opts.ReconnectDelay.Reset()
	reconnecting := false
	var dialer net.Dialer
	for {
		nc, err := dialer.DialContext(c.dialCtx, "unix", c.opts.SocketFile)
		if err == nil {
			if err = endpoint.AllowPeer(nc.(*net.UnixConn), c.opts.AllowPeer, ErrPeerRefused); err != nil {
				nc.Close()
				c.e.LogRefused(err)
			}
		}
		if err != nil {
			if c.isClosing() {
				return
			}
			c.e.Post(EventConnectError, err)
			if !c.wait(c.opts.RetryDelay, err) {
				return
			}
			continue
		}
		cur := c.start(nc.(*net.UnixConn))
		if cur == nil {
			return
		}
		c.e.Opened(cur.c)
		c.e.Post(EventConnect, cur)
		if reconnecting {
			c.e.Reconnected()
			c.e.Post(EventReconnect, cur)
		}
		c.opts.RetryDelay.Reset()
		c.opts.ReconnectDelay.Reset()
		cur.c.Run()

		select {
		case <-cur.c.Done():
		case <-c.e.Closing():
			cur.c.Close()
			<-cur.c.Done()
			return
		}
		c.e.Lock()
		if c.current == cur {
			c.current = nil
		}
		c.e.Unlock()
		if c.isClosing() {
			return
		}
		c.e.Post(EventDisconnect)
		reconnecting = true
		if !c.wait(c.opts.ReconnectDelay, nil) {
			return
		}
	}
}

// start makes the connection current, unless Close came first.
func (c *Client) start(nc *net.UnixConn) *Conn {
	var cur *Conn
	cfg := c.e.ConnConfig(endpoint.Hooks{
		OnDrain: func(*conn.Conn) { c.e.Emitter().Emit(EventDrain) },
		Ended: func(*conn.Conn) {
			c.e.Lock()
			if c.current == cur {
				c.current = nil
			}
			c.e.Unlock()
		},
	})
	cur = &Conn{c: conn.New(nc, cfg), e: c.e}
	c.e.Lock()
	defer c.e.Unlock()
	if c.e.ClosedLocked() {
		nc.Close()
		return nil
	}
	c.current = cur
	close(c.connected)
	c.connected = make(chan struct{})
	return cur
}

// wait sleeps for the policy's next delay; false means stop (Close, or the
// policy gave up, in which case the client shuts down).
func (c *Client) wait(policy backoff.BackOff, lastErr error) bool {
	d := policy.NextBackOff()
	if d == backoff.Stop {
		if !c.e.BeginClose(nil) {
			return false // Close got there first and does the shutdown
		}
		err := ErrGaveUp
		if lastErr != nil {
			err = fmt.Errorf("%w: %w", ErrGaveUp, lastErr)
		}
		c.e.Report(err)
		c.e.End()
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.e.Closing():
		return false
	}
}

func (c *Client) isClosing() bool {
	select {
	case <-c.e.Closing():
		return true
	default:
		return false
	}
}
