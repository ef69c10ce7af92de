//go:build linux

package reliability_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/socketipc/socketipc/backoff"
	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/conn"
	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/message"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	crashClients  = 10
	crashMaxQueue = 1 << 20 // each client's MaxQueueBytes
	crashPad      = 64      // bytes of padding per message
)

// crashClient is one of the crash loop's clients: it sends seq messages
// continuously, numbering each accepted one, and remembers on which
// connection each number was accepted.
type crashClient struct {
	name  string
	cli   *client.Client
	log   *eventlog.Log
	up    chan struct{} // a connect happened
	drain chan struct{} // a drain happened

	mu        sync.Mutex
	connects  []*client.Conn                // in "connect" order: connection j talks to server life j
	byConn    map[*client.Conn]*acceptRange // numbers accepted, by connection
	ambiguous int                           // numbers accepted while the connection changed under Send
	errKinds  map[string]int                // "error" events, by kind
	next      int64                         // the next number; only the sender touches it while it runs
}

// acceptRange is the first and last number Send accepted on one connection
// (when Conn() was that connection both before and after the call).
type acceptRange struct{ first, last int64 }

func newCrashClient(t *testing.T, name, sock string) *crashClient {
	t.Helper()
	cli, err := client.New(client.Options{
		SocketFile:     sock,
		RetryDelay:     backoff.Constant(10 * time.Millisecond),
		ReconnectDelay: backoff.Constant(10 * time.Millisecond),
		MaxQueueBytes:  crashMaxQueue,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Close() })
	c := &crashClient{
		name: name, cli: cli,
		up: make(chan struct{}, 1), drain: make(chan struct{}, 1),
		byConn: map[*client.Conn]*acceptRange{}, errKinds: map[string]int{},
	}
	c.log = eventlog.Record(cli, "connect", "reconnect", "disconnect", "closed", "close")
	cli.On("connect", func(cn *client.Conn) {
		c.mu.Lock()
		c.connects = append(c.connects, cn)
		c.mu.Unlock()
		signal(c.up)
	})
	cli.On("drain", func() { signal(c.drain) })
	cli.On("error", func(err error) {
		c.mu.Lock()
		c.errKinds[errorKind(err)]++
		c.mu.Unlock()
	})
	return c
}

// errorKind sorts a client's error events for the report.
func errorKind(err error) string {
	var se *message.SendError
	switch {
	case errors.Is(err, message.ErrQueueFull):
		return "queue full"
	case errors.Is(err, message.ErrNoServer):
		return "no server"
	case errors.As(err, &se):
		return "send: " + se.Err.Error()
	case errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNRESET):
		return "write to the dead server"
	}
	return err.Error()
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// await waits for ch, stop or d, whichever comes first.
func await(ch, stop <-chan struct{}, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
	case <-stop:
	case <-t.C:
	}
}

// run sends until stop: each accepted Send takes the next number; a refused
// one is retried with the same number once the client is connected again
// or its queue drained.
func (c *crashClient) run(t *testing.T, stop <-chan struct{}) {
	pad := strings.Repeat("x", crashPad)
	for {
		select {
		case <-stop:
			return
		default:
		}
		before := c.cli.Conn()
		if before == nil {
			await(c.up, stop, 5*time.Millisecond)
			continue
		}
		err := c.cli.Send("seq", seqMsg{C: c.name, N: c.next, P: pad})
		after := c.cli.Conn()
		switch {
		case err == nil:
			c.accepted(c.next, before, after)
			c.next++
		case errors.Is(err, message.ErrQueueFull):
			await(c.drain, stop, 20*time.Millisecond)
		case errors.Is(err, message.ErrNoServer):
			await(c.up, stop, 5*time.Millisecond)
		default:
			t.Errorf("client %s: unexpected Send error: %v", c.name, err)
			return
		}
	}
}

func (c *crashClient) accepted(n int64, before, after *client.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Send read the current connection once, between the two Conn() calls;
	// a new connection is only made current after the old one was cleared,
	// so nil after means before was used.
	if after != nil && after != before {
		c.ambiguous++
		return
	}
	r := c.byConn[before]
	if r == nil {
		c.byConn[before] = &acceptRange{first: n, last: n}
		return
	}
	r.last = n
}

// lifeRecv is what one life of the server received, by client name, fed by
// the goroutine reading that life's stdout.
type lifeRecv struct {
	mu     sync.Mutex
	byName map[string]*recvRange
}

// recvRange: the numbers one client's messages had in one life.
type recvRange struct {
	first, last, count int64
	breaks             []string // a number that was not the previous one plus one
}

func newLifeRecv() *lifeRecv { return &lifeRecv{byName: map[string]*recvRange{}} }

func (l *lifeRecv) add(name string, n int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.byName[name]
	if r == nil {
		l.byName[name] = &recvRange{first: n, last: n, count: 1}
		return
	}
	if n != r.last+1 && len(r.breaks) < 10 {
		r.breaks = append(r.breaks, fmt.Sprintf("%d after %d", n, r.last))
	}
	r.last = n
	r.count++
}

// min is the fewest messages any of names has in this life.
func (l *lifeRecv) min(names []string) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	least := int64(-1)
	for _, n := range names {
		c := int64(0)
		if r := l.byName[n]; r != nil {
			c = r.count
		}
		if least < 0 || c < least {
			least = c
		}
	}
	return least
}

func (l *lifeRecv) get(name string) *recvRange {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byName[name]
}

// waitUntil polls cond (for an end state reached by other processes) until
// it holds, or fails the test.
func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// frameLen returns a function giving the length on the wire of client
// name's seq message number n.
func frameLen(t *testing.T, name string) func(n int64) int {
	t.Helper()
	pad := strings.Repeat("x", crashPad)
	enc := func(n int64) int {
		f, err := message.AppendFrame(nil, message.JSON, message.Framing{}, "seq", seqMsg{C: name, N: n, P: pad})
		require.NoError(t, err)
		return len(f)
	}
	base := enc(0) - 1 // everything but the number's digits
	for _, n := range []int64{7, 12345, 987654321} {
		require.Equal(t, enc(n), base+len(fmt.Sprint(n)))
	}
	return func(n int64) int { return base + len(fmt.Sprint(n)) }
}

// kernelSendBuffer is a Unix stream socket's default SO_SNDBUF, as the
// kernel reports it: the most it holds in flight for one connection.
func kernelSendBuffer(t *testing.T) int {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	require.NoError(t, err)
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	n, err := syscall.GetsockoptInt(fds[0], syscall.SOL_SOCKET, syscall.SO_SNDBUF)
	require.NoError(t, err)
	return n
}

// Crash loop: the server (a separate process) is killed with SIGKILL again
// and again while 10 clients send numbered messages as fast as their queues
// allow. Every client sees disconnect, then connect and reconnect, each
// time. Across all of the server's lives no number arrives twice or out of
// order, nothing is lost while a connection lives, everything accepted on
// the last connection arrives (the clients close first, flushing, then the
// last server closes gracefully), and what each crash loses is counted and
// stays within the send queue limit plus what was in flight beyond it (the
// kernel's socket buffer and the dead server's unprocessed read-ahead).
func TestCrashLoop(t *testing.T) {
	leakcheck.Check(t)
	kills := pick(4, 20)
	minLife := pick(150*time.Millisecond, time.Second)
	minPerLife := int64(pick(200, 2000))
	sock := testsock.Path(t)
	helperBinary(t) // build before the clock starts

	clients := make([]*crashClient, crashClients)
	names := make([]string, crashClients)
	for i := range clients {
		names[i] = fmt.Sprintf("c%02d", i)
		clients[i] = newCrashClient(t, names[i], sock)
	}
	stop := make(chan struct{})
	var senders sync.WaitGroup
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		senders.Wait()
	}()

	var (
		lives     []*lifeRecv
		serverErr []string
		peakHWM   uint64
		final     summary
	)
	start := time.Now()
	for life := 0; life <= kills; life++ {
		lr := newLifeRecv()
		lives = append(lives, lr)
		p := startServer(t, sock, lr.add)
		if life == 0 {
			for _, c := range clients {
				require.NoError(t, c.cli.Connect())
				senders.Add(1)
				go func() {
					defer senders.Done()
					c.run(t, stop)
				}()
			}
		}
		for _, c := range clients {
			c.log.WaitCount(t, "connect", life+1)
			if life > 0 {
				c.log.WaitCount(t, "reconnect", life)
			}
		}
		born := time.Now()
		waitUntil(t, fmt.Sprintf("%d messages from each client in life %d", minPerLife, life), 60*time.Second, func() bool {
			return time.Since(born) >= minLife && lr.min(names) >= minPerLife
		})
		peakHWM = max(peakHWM, p.vmHWM())
		if life < kills {
			p.kill(t)
			serverErr = append(serverErr, p.errors()...)
			for _, c := range clients {
				c.log.WaitCount(t, "disconnect", life+1)
			}
			continue
		}
		// The last life: stop sending, close the clients (they flush what
		// they accepted), then close the server gracefully.
		close(stop)
		senders.Wait()
		for _, c := range clients {
			require.NoError(t, c.cli.Close(), "client %s: Close must flush everything", c.name)
		}
		final = p.stop(t)
		serverErr = append(serverErr, p.errors()...)
		peakHWM = max(peakHWM, final.VmHWM)
	}
	elapsed := time.Since(start)

	assert.Empty(t, serverErr, "the server reported errors")
	assert.Empty(t, final.CloseErr, "the last server's Close")

	// Events: connect, then disconnect, connect, reconnect for each crash.
	wantEvents := []string{"connect"}
	for range kills {
		wantEvents = append(wantEvents, "disconnect", "connect", "reconnect")
	}
	wantEvents = append(wantEvents, "closed", "close")
	for _, c := range clients {
		assert.Equal(t, wantEvents, c.log.Names(), "client %s: events", c.name)
	}

	// Numbers: per client, per life, then across lives.
	var sent, received, lost, dup, ambiguous int64
	lostPerCrash := make([]int64, kills)
	var worstBytes int
	worstAt := ""
	// Beyond the queue, a crash loses what the kernel held for the dead
	// server (accounted against the sender's SO_SNDBUF, which one more
	// buffer of up to half its size can overshoot) and what the server had
	// read but not yet handed to its listener (its read-ahead, plus one
	// read's batch and a partial frame).
	sndbuf := kernelSendBuffer(t)
	allowance := sndbuf + sndbuf/2 + conn.DefaultReadAhead + 2*(64<<10)
	for _, c := range clients {
		c.mu.Lock()
		connects, byConn := c.connects, c.byConn
		ambiguous += int64(c.ambiguous)
		c.mu.Unlock()
		require.Len(t, connects, kills+1, "client %s: one connection per server life", c.name)
		size := frameLen(t, c.name)
		sent += c.next
		for j := range connects {
			got := lives[j].get(c.name)
			require.NotNil(t, got, "client %s: nothing arrived in life %d", c.name, j)
			received += got.count
			assert.Empty(t, got.breaks, "client %s, life %d: numbers not consecutive", c.name, j)
			acc := byConn[connects[j]]
			require.NotNil(t, acc, "client %s: nothing accepted on connection %d", c.name, j)
			// Nothing accepted on connection j before what arrived first in life j was lost.
			assert.LessOrEqual(t, got.first, acc.first, "client %s, life %d: the start of a connection was lost", c.name, j)
			if j == 0 {
				assert.Equal(t, int64(0), got.first, "client %s: the first messages were lost", c.name)
			}
			if j == kills {
				// Everything accepted on the last connection arrived.
				assert.Equal(t, c.next-1, got.last, "client %s: messages accepted after the last reconnect were lost", c.name)
				continue
			}
			next := lives[j+1].get(c.name)
			require.NotNil(t, next, "client %s: nothing arrived in life %d", c.name, j+1)
			if next.first <= got.last {
				dup += got.last - next.first + 1
				t.Errorf("client %s: life %d began at %d, life %d ended at %d: duplicated or out of order", c.name, j+1, next.first, j, got.last)
				continue
			}
			// Lost in crash j: accepted (on connection j, or while it was
			// being replaced) but neither in life j nor in life j+1.
			n := next.first - got.last - 1
			lost += n
			lostPerCrash[j] += n
			bytes := 0
			for s := got.last + 1; s < next.first; s++ {
				bytes += size(s)
			}
			if bytes > worstBytes {
				worstBytes, worstAt = bytes, fmt.Sprintf("client %s, crash %d", c.name, j+1)
			}
			assert.LessOrEqual(t, bytes, crashMaxQueue+allowance,
				"client %s, crash %d: lost %d bytes, more than the queue limit (%d) and what can be in flight beyond it (%d)",
				c.name, j+1, bytes, crashMaxQueue, allowance)
		}
	}
	assert.Equal(t, sent, received+lost+dup, "every accepted message arrived once or was lost in a crash")
	t.Logf("%d crashes, %d clients, %v: sent %d, received %d, lost %d, duplicated %d; server peak RSS %s",
		kills, crashClients, elapsed.Round(time.Millisecond), sent, received, lost, dup, mib(peakHWM))
	t.Logf("lost per crash (all clients): %v", lostPerCrash)
	t.Logf("worst loss: %d bytes (%s); queue limit %d bytes, in-flight allowance %d bytes; %d sends raced a reconnect",
		worstBytes, worstAt, crashMaxQueue, allowance, ambiguous)
	for _, c := range clients {
		c.mu.Lock()
		t.Logf("client %s: error events %v", c.name, c.errKinds)
		c.mu.Unlock()
	}
	report(t, result{
		Scenario: "crash loop", Sent: sent, Received: received, Lost: lost, Duplicated: dup,
		PeakMem: peakHWM, MemKind: "VmHWM, server process (largest life)", Seconds: elapsed.Seconds(),
		Notes: fmt.Sprintf("%d SIGKILLs of the server while %d clients send as fast as their %s queues allow; messages lost per crash (all clients) %v; "+
			"worst loss for one client in one crash %s (%s), checked against the queue limit %s plus at most %s in flight beyond it (kernel socket buffer, the dead server's read-ahead)",
			kills, crashClients, mib(crashMaxQueue), lostPerCrash, mib(uint64(worstBytes)), worstAt, mib(crashMaxQueue), mib(uint64(allowance))),
	})
}
