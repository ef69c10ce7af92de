//go:build unix

package interop_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socketipc/socketipc/backoff"
	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/emitter"
	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/nodepeer"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
)

// wait bounds one step of a conversation. Node start-up and delivery can be slow on a loaded
// machine; the tests wait on events, so a generous bound costs nothing when things work.
const wait = 20 * time.Second

// burstWait bounds the bulk transfers (100,000 messages, 8 MiB).
const burstWait = 90 * time.Second

// fastRetry makes Go clients retry and reconnect quickly, as "--retry 50 --reconnect 50" does
// for Node clients.
const fastRetry = 50 * time.Millisecond

// quietTopic is the topic of bulk transfers: the inbox does not record its messages (a
// counting listener checks them instead).
const quietTopic = "burst"

// source is what a Go Server or Client offers the tests.
type source interface {
	On(event string, listener any) emitter.Handle
}

// inbox records the events of a Go Server or Client in one log: the named events as they
// come, "message" as (msg any, topic, clientID), and "message.<topic>" for watched topics as
// (copy of the raw payload, clientID), so that a test can check the decoded value, the raw
// JSON, and that message.<topic> comes right after message.
type inbox struct {
	src source
	log *eventlog.Log

	mu      sync.Mutex
	watched map[string]bool
	next    int // index in log of the next "message" event expectMessage will take
	errors  int // "error" events taken by expectError
}

func newInbox(src source, names ...string) *inbox {
	in := &inbox{src: src, log: &eventlog.Log{Timeout: wait}, watched: map[string]bool{}}
	for _, name := range names {
		in.log.Listen(src, name)
	}
	// A server's message events carry a client id, a client's do not; a
	// listener may not take more parameters than its event has.
	src.On("message", func(msg any, topicAndID ...string) {
		topic, clientID := topicAndID[0], lastOf(topicAndID[1:])
		if topic == quietTopic {
			return
		}
		in.log.Add("message", msg, topic, clientID)
	})
	return in
}

// watch records the "message.<topic>" events (once per topic).
func (in *inbox) watch(topic string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.watched[topic] {
		return
	}
	in.watched[topic] = true
	in.src.On("message."+topic, func(raw json.RawMessage, id ...string) {
		in.log.Add("message."+topic, append(json.RawMessage(nil), raw...), lastOf(id))
	})
}

// lastOf is the client id in a message event's trailing arguments, if any.
func lastOf(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return ids[len(ids)-1]
}

// goMessage is one message received on the Go side.
type goMessage struct {
	Value    any             // as a func(msg any, ...) listener got it
	Raw      json.RawMessage // as a func(msg json.RawMessage, ...) listener got it
	ClientID string
}

// expectMessage takes the next "message" event, which must be on topic and followed at once by
// "message.<topic>" with the same payload and client id. The topic must be watched.
func (in *inbox) expectMessage(t testing.TB, topic string) goMessage {
	t.Helper()
	return in.expectMessageWithin(t, topic, wait)
}

// expectMessageWithin is expectMessage with a timeout.
func (in *inbox) expectMessageWithin(t testing.TB, topic string, timeout time.Duration) goMessage {
	t.Helper()
	var msg, msgT eventlog.Event
	swapped := false
	in.log.Within(t, fmt.Sprintf("message and message.%s", topic), timeout, func(events []eventlog.Event) bool {
		for i := in.next; i < len(events); i++ {
			if events[i].Name != "message" {
				continue
			}
			if i+1 == len(events) {
				if i > in.next && events[i-1].Name == "message."+topic {
					msg, msgT, swapped = events[i], events[i-1], true
					in.next = i + 1
					return true
				}
				return false // message.<topic> is on its way
			}
			msg, msgT = events[i], events[i+1]
			in.next = i + 2
			return true
		}
		return false
	})
	if swapped {
		t.Fatalf("%v came before %v: want message first", msgT, msg)
	}
	if got, _ := msg.Arg(1).(string); got != topic {
		t.Fatalf("got a message on topic %q, want %q: %v", got, topic, msg)
	}
	if msgT.Name != "message."+topic {
		t.Fatalf("message on %q was followed by %v, want message.%s", topic, msgT, topic)
	}
	m := goMessage{Value: msg.Arg(0)}
	m.ClientID, _ = msg.Arg(2).(string)
	m.Raw, _ = msgT.Arg(0).(json.RawMessage)
	if id, _ := msgT.Arg(1).(string); id != m.ClientID {
		t.Fatalf("message.%s has client id %q, message %q", topic, id, m.ClientID)
	}
	if len(m.Raw) > 1<<20 {
		return m // big: the test compares hashes (decoding it again costs seconds with -race)
	}
	var fromRaw any
	if err := json.Unmarshal(m.Raw, &fromRaw); err != nil {
		t.Fatalf("message.%s: raw payload %q is not JSON: %v", topic, m.Raw, err)
	}
	if !reflect.DeepEqual(fromRaw, m.Value) {
		t.Fatalf("message.%s: raw payload %s decodes to %#v, but the any listener got %#v", topic, m.Raw, fromRaw, m.Value)
	}
	return m
}

// expectError takes the next "error" event.
func (in *inbox) expectError(t testing.TB) error {
	t.Helper()
	err := in.log.Wait(t, "error").Err()
	in.mu.Lock()
	in.errors++
	in.mu.Unlock()
	return err
}

// checkNoOtherErrors fails if "error" events arrived that expectError did not take.
func (in *inbox) checkNoOtherErrors(t testing.TB) {
	t.Helper()
	in.mu.Lock()
	taken := in.errors
	in.mu.Unlock()
	if n := in.log.Count("error"); n != taken {
		var errs []string
		for _, e := range in.log.All() {
			if e.Name == "error" {
				errs = append(errs, fmt.Sprint(e.Err()))
			}
		}
		t.Errorf("%d unexpected error event(s) on the Go side: %s", n-taken, strings.Join(errs, "; "))
	}
}

// checkAdjacent fails unless the last event named first is immediately followed by second.
func (in *inbox) checkAdjacent(t testing.TB, first, second string) {
	t.Helper()
	events := in.log.All()
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Name == first {
			if i+1 >= len(events) || events[i+1].Name != second {
				t.Fatalf("%s is not immediately followed by %s: %v", first, second, events[i:])
			}
			return
		}
	}
	t.Fatalf("no %s event: %v", first, in.log.Names())
}

// startGoServer makes a Go server on sock with opts and makes it listen; Close is a cleanup.
func startGoServer(t testing.TB, sock string, opts server.Options) (*server.Server, *inbox) {
	t.Helper()
	srv, in := newGoServer(t, sock, opts)
	if err := srv.Listen(); err != nil {
		t.Fatalf("Go server: Listen: %v", err)
	}
	in.log.Wait(t, "listening")
	return srv, in
}

// newGoServer makes a Go server on sock with opts, recording its events; Close is a cleanup.
func newGoServer(t testing.TB, sock string, opts server.Options) (*server.Server, *inbox) {
	t.Helper()
	opts.SocketFile = sock
	srv, err := server.New(opts)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	in := newInbox(srv, "listening", "connection", "connectionClose", "error", "close")
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Go server: Close: %v", err)
		}
	})
	return srv, in
}

// startGoClient is newGoClient, then Connect.
func startGoClient(t testing.TB, sock string, opts client.Options) (*client.Client, *inbox) {
	t.Helper()
	cli, in := newGoClient(t, sock, opts)
	if err := cli.Connect(); err != nil {
		t.Fatalf("Go client: Connect: %v", err)
	}
	return cli, in
}

// newGoClient makes a Go client of sock (retrying and reconnecting every 50 ms unless opts say
// otherwise), recording its events; Close is a cleanup.
func newGoClient(t testing.TB, sock string, opts client.Options) (*client.Client, *inbox) {
	t.Helper()
	opts.SocketFile = sock
	if opts.RetryDelay == nil {
		opts.RetryDelay = backoff.Constant(fastRetry)
	}
	if opts.ReconnectDelay == nil {
		opts.ReconnectDelay = backoff.Constant(fastRetry)
	}
	cli, err := client.New(opts)
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	in := newInbox(cli, "connect", "reconnect", "disconnect", "connectError", "error", "close")
	t.Cleanup(func() {
		if err := cli.Close(); err != nil {
			t.Errorf("Go client: Close: %v", err)
		}
	})
	return cli, in
}

// startNodeServer starts a Node server peer on sock and makes it listen.
func startNodeServer(t testing.TB, sock string, args ...string) *nodepeer.Peer {
	t.Helper()
	p := nodepeer.Start(t, "server", sock, args...)
	do(t, p, map[string]any{"cmd": "listen"})
	p.Expect(t, "listening", wait)
	return p
}

// startNodeClient starts a Node client peer of sock (retrying and reconnecting every 50 ms)
// and makes it connect.
func startNodeClient(t testing.TB, sock string, args ...string) *nodepeer.Peer {
	t.Helper()
	p := nodepeer.Start(t, "client", sock, append([]string{"--retry", "50", "--reconnect", "50"}, args...)...)
	do(t, p, map[string]any{"cmd": "connect"})
	p.Expect(t, "connect", wait)
	return p
}

// expectNodeMessage expects "message" on topic, then at once "message.<topic>" with the same
// payload, from the Node peer, and returns the "message" event.
func expectNodeMessage(t testing.TB, p *nodepeer.Peer, topic string) nodepeer.Event {
	t.Helper()
	return expectNodeMessageWithin(t, p, topic, wait)
}

// expectNodeMessageWithin is expectNodeMessage with a timeout.
func expectNodeMessageWithin(t testing.TB, p *nodepeer.Peer, topic string, timeout time.Duration) nodepeer.Event {
	t.Helper()
	m := p.ExpectFunc(t, "message on "+topic, timeout, func(e nodepeer.Event) bool { return e.Event == "message" })
	if m.Topic != topic {
		t.Fatalf("Node got a message on topic %q, want %q: %s", m.Topic, topic, m.Line)
	}
	mt := p.ExpectFunc(t, "message."+topic, timeout, func(e nodepeer.Event) bool { return e.Event == "message."+topic })
	if mt.Seq != m.Seq+1 {
		t.Fatalf("Node's message on %q (#%d) was followed by %s (#%d), want message.%s right after", topic, m.Seq, mt.Line, mt.Seq, topic)
	}
	if !bytes.Equal(mt.Message, m.Message) || mt.MessageMissing != m.MessageMissing || mt.MessageSHA256 != m.MessageSHA256 || mt.ClientID != m.ClientID {
		t.Fatalf("Node's message and message.%s differ: %s / %s", topic, m.Line, mt.Line)
	}
	return m
}

// checkNodeClean fails if the Node peer reported a failure: an error event, an exception from
// inside the package, a failed command or an event it could not report.
func checkNodeClean(t testing.TB, p *nodepeer.Peer) {
	t.Helper()
	for _, e := range p.Events() {
		switch e.Event {
		case "error", "uncaughtException", "unhandledRejection", "cmdError", "peerError", "nonJSON":
			t.Errorf("%s reported %s", p.Name(), e.Line)
		}
	}
}

// jsonEqual reports whether a and b are JSON texts of equal values (key order and spacing do
// not matter).
func jsonEqual(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// mustJSON decodes JSON text the way a func(msg any) listener gets it.
func mustJSON(t testing.TB, text string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatalf("bad JSON in the test: %q: %v", text, err)
	}
	return v
}

// counter is a Go listener for bulk transfers: it checks that the messages of one sender are
// prefix0, prefix1, ... and closes done after want of them.
type counter struct {
	prefix string
	want   int

	mu       sync.Mutex
	n        int
	firstBad string
	done     chan struct{}
}

func newCounter(prefix string, want int) *counter {
	return &counter{prefix: prefix, want: want, done: make(chan struct{})}
}

// listener is registered for "message.<quietTopic>".
func (c *counter) listener(msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.firstBad == "" && msg != c.prefix+fmt.Sprint(c.n) {
		c.firstBad = fmt.Sprintf("message #%d is %q", c.n, msg)
	}
	c.n++
	if c.n == c.want {
		close(c.done)
	}
}

// count is how many messages arrived so far; a listener of another event of the same Server or
// Client calls it to learn how many came before that event.
func (c *counter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// await waits for want messages, in order.
func (c *counter) await(t testing.TB, who string) {
	t.Helper()
	timer := time.NewTimer(burstWait)
	defer timer.Stop()
	select {
	case <-c.done:
	case <-timer.C:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n != c.want || c.firstBad != "" {
		t.Fatalf("%s: got %d of %d messages (out of order: %q)", who, c.n, c.want, c.firstBad)
	}
}

// isSendError checks that err is a *message.SendError wrapping target.
func isSendError(t testing.TB, err error, target error) {
	t.Helper()
	var se *message.SendError
	if !errors.As(err, &se) || !errors.Is(err, target) {
		t.Fatalf("got error %v (%T), want a *message.SendError wrapping %v", err, err, target)
	}
}

// nodeEvent is an event reported by a Node peer.
type nodeEvent = nodepeer.Event

// receive waits for a value on ch.
func receive[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("timed out after %v waiting for %s", wait, what)
		panic("unreachable")
	}
}

// isErr is errors.Is.
func isErr(err, target error) bool { return errors.Is(err, target) }

// asSendError returns err's *message.SendError, or nil.
func asSendError(err error) *message.SendError {
	var se *message.SendError
	if errors.As(err, &se) {
		return se
	}
	return nil
}

// do is nodepeer's Do with this package's timeout (wait, not nodepeer.DefaultTimeout).
func do(t testing.TB, p *nodepeer.Peer, cmd map[string]any) nodeEvent {
	t.Helper()
	return doWithin(t, p, cmd, wait)
}

// doWithin sends a command to a Node peer and waits up to timeout for its "done", which it
// returns; a "cmdError" fails the test. Its id is a string, so no nodepeer Do takes its answer.
func doWithin(t testing.TB, p *nodepeer.Peer, cmd map[string]any, timeout time.Duration) nodeEvent {
	t.Helper()
	id := fmt.Sprintf("interop-%d", cmdID.Add(1))
	c := map[string]any{"id": id}
	for k, v := range cmd {
		c[k] = v
	}
	p.Send(c)
	ev := p.ExpectFunc(t, fmt.Sprintf("done or cmdError for %v", c), timeout, func(e nodeEvent) bool {
		return (e.Event == "done" || e.Event == "cmdError") && e.Str("id") == id
	})
	if ev.Event == "cmdError" {
		t.Fatalf("%s: command %v failed: %s", p.Name(), c, ev.Line)
	}
	return ev
}

// cmdID numbers the commands of do.
var cmdID atomic.Int64
