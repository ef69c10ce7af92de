package client_test

// Tests that back claims of docs/USAGE.md and docs/ADVANCED.md which no
// other test covers. Each test names the claim it backs.

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cb "github.com/cenkalti/backoff/v4"
	"github.com/socketipc/socketipc/backoff"
	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/message"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// docsItem is a numbered message of about 1 KiB.
type docsItem struct {
	N   int    `json:"n"`
	Pad string `json:"pad"`
}

var docsPad = strings.Repeat("p", 1000)

// docsSendPaced is the client's paced sender of docs/ADVANCED.md ("Pacing a
// sender"), word for word.
func docsSendPaced(cli *client.Client, drained <-chan struct{}, topic string, msg any) error {
	for {
		err := cli.Send(topic, msg)
		if !errors.Is(err, message.ErrQueueFull) {
			return err // sent (nil), or a failure that waiting won't fix
		}
		conn := cli.Conn()
		if conn == nil {
			return err // disconnected meanwhile
		}
		select {
		case <-drained: // the queue has emptied: try again
		case <-conn.Done(): // the connection ended while we waited
			return err
		}
	}
}

// docsSlowServer starts a server whose first "seq" message waits until
// refused is closed (so the client's queue fills for sure), then records
// every seq number; it adds "all" to the returned log when n have come.
func docsSlowServer(t *testing.T, path string, n int, refused <-chan struct{}) (*[]int, *eventlog.Log) {
	t.Helper()
	srv := startServer(t, path)
	slog := eventlog.Record(srv, "error")
	got := &[]int{} // only touched by the server's listeners
	srv.On("message.seq", func(m docsItem) {
		if len(*got) == 0 {
			select {
			case <-refused:
			case <-time.After(eventlog.Timeout):
			}
		}
		*got = append(*got, m.N)
		if len(*got) == n {
			slog.Add("all")
		}
	})
	return got, slog
}

func docsSequence(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// ADVANCED "Pacing a sender": a client sends 3,000 messages of 1 KiB through
// a 4 KiB send queue from its own goroutine, waiting for "drain" whenever a
// Send is refused. The queue does fill, and every message arrives, once, in
// order.
func TestDocsPacedSender(t *testing.T) {
	leakcheck.Check(t)
	const n = 3000
	path := testsock.Path(t)
	refused := make(chan struct{})
	got, slog := docsSlowServer(t, path, n, refused)

	opts := fastOptions(path)
	opts.MaxQueueBytes = 4 << 10
	cli := newClient(t, opts)
	log := eventlog.Record(cli, clientEvents...)
	drained := make(chan struct{}, 1)
	cli.On("drain", func() {
		select {
		case drained <- struct{}{}:
		default:
		}
	})
	var refusedOnce sync.Once
	cli.On("error", func(err error) {
		if errors.Is(err, message.ErrQueueFull) {
			refusedOnce.Do(func() { close(refused) })
		}
	})
	require.NoError(t, cli.Connect())
	log.Wait(t, "connect")

	within(t, 3*guard, "paced sending", func() {
		for i := range n {
			require.NoError(t, docsSendPaced(cli, drained, "seq", docsItem{N: i, Pad: docsPad}), "message %d", i)
		}
	})
	slog.Wait(t, "all")
	require.Equal(t, docsSequence(n), *got)
	refusals := 0
	for _, e := range log.All() {
		if e.Name == "error" {
			require.ErrorIs(t, e.Err(), message.ErrQueueFull, "the only errors are the refusals")
			refusals++
		}
	}
	require.Positive(t, refusals, "the queue never filled")
	require.Positive(t, log.Count("drain"))
	t.Logf("%d messages through a 4 KiB queue; %d refusals, %d drains", n, refusals, log.Count("drain"))
}

// ADVANCED "Pacing a sender", from listeners: a pump that sends until the
// queue is full and is called again by "drain" (and by "connect") gets all
// 3,000 messages across without ever waiting inside a listener.
func TestDocsPumpFromDrainListener(t *testing.T) {
	leakcheck.Check(t)
	const n = 3000
	path := testsock.Path(t)
	refused := make(chan struct{})
	got, slog := docsSlowServer(t, path, n, refused)

	opts := fastOptions(path)
	opts.MaxQueueBytes = 4 << 10
	cli := newClient(t, opts)
	log := eventlog.Record(cli, clientEvents...)

	// The pump of ADVANCED.md; next is only touched by listeners.
	next := 0
	pump := func() {
		for next < n {
			if err := cli.Send("seq", docsItem{N: next, Pad: docsPad}); err != nil {
				return // full: "drain" calls pump again (other errors go to "error")
			}
			next++
		}
	}
	cli.On("connect", pump)
	cli.On("drain", pump)

	var refusedOnce sync.Once
	cli.On("error", func(err error) {
		if errors.Is(err, message.ErrQueueFull) {
			refusedOnce.Do(func() { close(refused) })
		}
	})
	require.NoError(t, cli.Connect())
	slog.Wait(t, "all")
	require.Equal(t, docsSequence(n), *got)
	require.Positive(t, log.Count("drain"), "the queue never filled")
	for _, e := range log.All() {
		if e.Name == "error" {
			require.ErrorIs(t, e.Err(), message.ErrQueueFull)
		}
	}
}

// USAGE "Event timing": the messages of one connection come before its
// "disconnect": a server sends 1,000 messages and then ends the connection;
// the client gets all of them, then disconnect.
func TestDocsMessagesBeforeDisconnect(t *testing.T) {
	leakcheck.Check(t)
	const n = 1000
	path := testsock.Path(t)
	srv := startServer(t, path)
	slog := eventlog.Record(srv, "connection")
	cli := newClient(t, client.Options{SocketFile: path, ReconnectDelay: backoff.Constant(time.Hour)})
	log := eventlog.Record(cli, append(clientEvents, "message.seq")...)
	require.NoError(t, cli.Connect())
	log.Wait(t, "connect")
	id := slog.Wait(t, "connection").Arg(0).(string)
	for i := range n {
		require.NoError(t, srv.Send("seq", i, id))
	}
	srv.Conn(id).Close() // graceful: what was queued is written first
	log.Wait(t, "disconnect")

	var seq []float64
	var names []string
	for _, e := range log.All() {
		if e.Name == "message.seq" {
			seq = append(seq, e.Arg(0).(float64))
		}
		if e.Name != "message" {
			names = append(names, e.Name)
		}
	}
	require.Len(t, seq, n)
	for i, v := range seq {
		require.Equal(t, float64(i), v)
	}
	require.Equal(t, "disconnect", names[len(names)-1], "disconnect comes after every message")
	require.Equal(t, n+2, len(names), "%v", names[:3])
}

// docsClock is a clock for cenkalti's ExponentialBackOff that the test moves.
type docsClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *docsClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *docsClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// docsResets wraps a policy and reports each Reset on a channel.
type docsResets struct {
	backoff.BackOff
	resets chan struct{}
}

func (r *docsResets) Reset() {
	r.BackOff.Reset()
	r.resets <- struct{}{}
}

// docsExponential is an exponential policy with short waits on clock c.
func docsExponential(c *docsClock, maxElapsed time.Duration) *docsResets {
	exp := cb.NewExponentialBackOff(
		cb.WithInitialInterval(time.Millisecond),
		cb.WithMaxInterval(fast),
		cb.WithMaxElapsedTime(maxElapsed),
		cb.WithClockProvider(c),
	)
	return &docsResets{BackOff: exp, resets: make(chan struct{}, 100)}
}

func docsWaitReset(t *testing.T, r *docsResets) {
	t.Helper()
	select {
	case <-r.resets:
	case <-time.After(guard):
		t.Fatal("the policy was not reset")
	}
}

// USAGE "Automatic retry": cenkalti's ExponentialBackOff plugs in as
// RetryDelay. With MaxElapsedTime 0 it never stops: after a connection that
// lived an hour, the client retries until the server is back.
func TestDocsExponentialRetryForever(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	clock := &docsClock{now: time.Now()}
	retry := docsExponential(clock, 0)
	srv := startServer(t, path)
	slog := eventlog.Record(srv, "connection")
	cli := newClient(t, client.Options{SocketFile: path, RetryDelay: retry, ReconnectDelay: backoff.Constant(fast)})
	log := eventlog.Record(cli, clientEvents...)
	require.NoError(t, cli.Connect())
	docsWaitReset(t, retry) // as the client starts
	log.Wait(t, "connect")
	slog.Wait(t, "connection")
	docsWaitReset(t, retry) // after the connection is made

	clock.advance(time.Hour) // the connection lives an hour
	require.NoError(t, srv.Close())
	log.Wait(t, "disconnect")
	log.WaitCount(t, "connectError", 5)
	startServer(t, path)
	log.Wait(t, "reconnect")
	require.Zero(t, log.Count("error"), "%v", log.All())
}

// USAGE "Automatic retry": cenkalti's ExponentialBackOff measures
// MaxElapsedTime from its last Reset, and the client resets its policies
// when a connection is made, not when it drops. So with MaxElapsedTime of a
// minute, a connection that lived two minutes is followed by one failed
// attempt and then the client gives up (ErrGaveUp, then closed and close).
func TestDocsExponentialMaxElapsedTimeCountsFromConnect(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	clock := &docsClock{now: time.Now()}
	retry := docsExponential(clock, time.Minute)
	srv := startServer(t, path)
	slog := eventlog.Record(srv, "connection")
	cli := newClient(t, client.Options{SocketFile: path, RetryDelay: retry, ReconnectDelay: backoff.Constant(fast)})
	log := eventlog.Record(cli, clientEvents...)
	require.NoError(t, cli.Connect())
	docsWaitReset(t, retry)
	log.Wait(t, "connect")
	slog.Wait(t, "connection")
	docsWaitReset(t, retry)

	clock.advance(2 * time.Minute)
	require.NoError(t, srv.Close())
	log.Wait(t, "close")
	require.Equal(t, []string{"connect", "disconnect", "connectError", "error", "closed", "close"}, log.Names())
	require.ErrorIs(t, log.Wait(t, "error").Err(), client.ErrGaveUp)
}

// USAGE "Automatic retry": cenkalti's WithMaxRetries caps the attempts: with
// 2 retries the client makes 3 attempts, then gives up: ErrGaveUp (wrapping
// the last dial error), closed, close; Send then fails with
// ErrSendAfterClose.
func TestDocsWithMaxRetriesGivesUp(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	cli := newClient(t, client.Options{SocketFile: path, RetryDelay: cb.WithMaxRetries(backoff.Constant(fast), 2)})
	log := eventlog.Record(cli, clientEvents...)
	require.NoError(t, cli.Connect())
	log.Wait(t, "close")
	require.Equal(t, []string{"connectError", "connectError", "connectError", "error", "closed", "close"}, log.Names())
	gaveUp := log.Wait(t, "error").Err()
	require.ErrorIs(t, gaveUp, client.ErrGaveUp)
	last := log.All()[2].Err()
	require.ErrorIs(t, gaveUp, last, "ErrGaveUp wraps the last connection error")
	require.ErrorIs(t, cli.Send("late", 1), message.ErrSendAfterClose)
}

// USAGE "Automatic reconnect": a client that says hello in its "connect"
// listener says it again on every reconnect, and the server sees a new
// client id each time.
func TestDocsHelloOnEveryConnect(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	srv := startServer(t, path)
	slog := eventlog.Record(srv, "message.hello")
	cli := newClient(t, fastOptions(path))
	log := eventlog.Record(cli, clientEvents...)
	cli.On("connect", func() { cli.Send("hello", map[string]any{"name": "worker-1"}) })
	require.NoError(t, cli.Connect())

	first := slog.Wait(t, "message.hello")
	id1 := first.Arg(1).(string)
	srv.Conn(id1).Close()
	log.Wait(t, "reconnect")
	second := slog.Wait(t, "message.hello")
	id2 := second.Arg(1).(string)
	assert.Equal(t, first.Arg(0), second.Arg(0))
	assert.NotEqual(t, id1, id2)
	names := log.Names()
	i := slices.Index(names, "reconnect")
	require.Equal(t, []string{"connect", "disconnect", "connect", "reconnect"}, names[:i+1])
}
