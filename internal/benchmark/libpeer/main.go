// Command libpeer is implementation (a) of the benchmark: the socketipc
// library, a Go server or Go client(s), one role per process. See package
// bench for the command line and what it prints; scripts/bench runs it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/socketipc/socketipc/backoff"
	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/internal/benchmark/bench"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
)

// limit bounds every wait; the driver's own timeout normally fires first.
const limit = 10 * time.Minute

// payload is a message as the chosen listener shape received it.
type payload struct {
	raw   json.RawMessage
	str   string
	isStr bool
}

func (p payload) check(s *bench.Seq) error {
	if p.isStr {
		return s.CheckString(p.str)
	}
	return s.CheckJSON(p.raw)
}

// value is what an echo sends back: the payload as received.
func (p payload) value() any {
	if p.isStr {
		return p.str
	}
	return p.raw
}

// equalsBytes reports whether the payload is the JSON string b (no escapes).
func (p payload) equalsBytes(b []byte) bool {
	if p.isStr {
		return p.str == string(b)
	}
	return len(p.raw) == len(b)+2 && bytes.Equal(p.raw[1:len(p.raw)-1], b)
}

// equals reports whether the payload is the JSON string s (no escapes).
func (p payload) equals(s string) bool {
	if p.isStr {
		return p.str == s
	}
	return len(p.raw) == len(s)+2 && string(p.raw[1:len(p.raw)-1]) == s
}

func main() {
	a := bench.Parse()
	// Each role starts the CPU profile once its setup (making payloads) is done.
	if a.Role == "server" {
		runServer(a)
	} else {
		runClient(a)
	}
	bench.StopProfile()
}

// serverListener returns a "message.<topic>" listener of the chosen shape.
func serverListener(kind string, fn func(p payload, id string)) any {
	switch kind {
	case "raw":
		return func(m json.RawMessage, id string) { fn(payload{raw: m}, id) }
	case "string":
		return func(m string, id string) { fn(payload{str: m, isStr: true}, id) }
	case "any":
		return func(m any, id string) {
			s, ok := m.(string)
			if !ok {
				bench.Failf("server: payload is a %T, not a string", m)
			}
			fn(payload{str: s, isStr: true}, id)
		}
	}
	bench.Failf("bad -listener %q (raw, string, any)", kind)
	return nil
}

// clientListener returns a client's "message.<topic>" listener of the chosen shape.
func clientListener(kind string, fn func(p payload)) any {
	switch kind {
	case "raw":
		return func(m json.RawMessage) { fn(payload{raw: m}) }
	case "string":
		return func(m string) { fn(payload{str: m, isStr: true}) }
	case "any":
		return func(m any) {
			s, ok := m.(string)
			if !ok {
				bench.Failf("client: payload is a %T, not a string", m)
			}
			fn(payload{str: s, isStr: true})
		}
	}
	bench.Failf("bad -listener %q (raw, string, any)", kind)
	return nil
}

func runServer(a bench.Args) {
	srv, err := server.New(server.Options{SocketFile: a.Socket})
	bench.Check(err)
	srv.On("error", func(err error) { bench.Failf("server: error event: %v", err) })

	// The server ends once every client it had has disconnected.
	expectClients := 1
	if a.Scenario == "s2" || a.Scenario == "s5" || a.Scenario == "s7" {
		expectClients = a.Clients
	}
	var connected, disconnected int
	allConnected, allGone := make(chan struct{}), make(chan struct{})
	srv.On("connection", func(string) {
		connected++
		if connected == expectClients {
			close(allConnected)
		}
	})
	var complete func(id string) bool // reports whether this client may leave now
	srv.On("connectionClose", func(id string) {
		if !complete(id) {
			bench.Failf("server: client %s disconnected before the scenario was complete", id)
		}
		disconnected++
		if disconnected == expectClients {
			close(allGone)
		}
	})

	result := map[string]any{"role": "server", "impl": "lib"}
	switch a.Scenario {
	case "s1":
		seq := bench.Seq{Name: "server", Max: a.N}
		var first, last time.Time
		done := make(chan struct{})
		complete = func(string) bool { return seq.Next == a.N }
		srv.On("message."+bench.Topic, serverListener(a.Listener, func(p payload, _ string) {
			if seq.Next == 0 {
				first = time.Now()
			}
			bench.Check(p.check(&seq))
			if seq.Next == a.N {
				last = time.Now()
				close(done)
			}
		}))
		bench.StartProfile(a.CPUProfile)
		bench.Check(srv.Listen())
		bench.Emit("ready", nil)
		bench.Within(limit, done, "all messages")
		result["received"] = seq.Next
		result["elapsed_ns"] = last.Sub(first).Nanoseconds()

	case "s2":
		payloads := bench.Payloads(a.N)
		acks := 0
		ackedBy := make(map[string]bool)
		var end time.Time
		acked := make(chan struct{})
		// Each client leaves after its own ack, perhaps before the others'.
		complete = func(id string) bool { return ackedBy[id] }
		srv.On("message."+bench.AckTopic, func(_ json.RawMessage, id string) {
			if ackedBy[id] {
				bench.Failf("server: client %s acked twice", id)
			}
			ackedBy[id] = true
			acks++
			if acks == a.Clients {
				end = time.Now()
				close(acked)
			}
		})
		bench.StartProfile(a.CPUProfile)
		bench.Check(srv.Listen())
		bench.Emit("ready", nil)
		bench.Within(limit, allConnected, "the clients to connect")
		start := time.Now()
		for _, p := range payloads {
			bench.Check(srv.Broadcast(bench.Topic, p))
		}
		bench.Within(limit, acked, "every client's ack")
		result["sent"] = a.N
		result["acks"] = acks
		result["elapsed_ns"] = end.Sub(start).Nanoseconds()

	case "s4", "s4b", "s4c":
		// Orders: into a struct (S4, S4c) or into any (S4b).
		seq := bench.OrderSeq{Name: "server", Max: a.N}
		var first, last time.Time
		done := make(chan struct{})
		complete = func(string) bool { return seq.Next == a.N }
		received := func() {
			if seq.Next == 1 {
				first = time.Now()
			}
			if seq.Next == a.N {
				last = time.Now()
				close(done)
			}
		}
		if a.Scenario == "s4b" {
			srv.On("message."+bench.OrderTopic, func(v any) {
				bench.Check(seq.CheckAny(v))
				received()
			})
		} else {
			server.OnMessage(srv, bench.OrderTopic, func(o bench.Order, _ string) {
				bench.Check(seq.Check(&o))
				received()
			})
		}
		bench.StartProfile(a.CPUProfile)
		bench.Check(srv.Listen())
		bench.Emit("ready", nil)
		bench.Within(limit, done, "all orders")
		result["received"] = seq.Next
		result["elapsed_ns"] = last.Sub(first).Nanoseconds()

	case "s5", "s7":
		// S5: every client sends 0, 1, ... N-1 at once; S7: one client of
		// many does. Each client's messages are checked on their own.
		seqs := map[string]*bench.Seq{}
		var lastID string
		var seq *bench.Seq
		total, want, size := 0, a.N*a.Clients, 0
		if a.Scenario == "s7" {
			want, size = a.N, a.Size
		}
		var first, last time.Time
		var cpuFirst, cpuLast time.Duration
		done := make(chan struct{})
		complete = func(id string) bool {
			s := seqs[id]
			if a.Scenario == "s7" {
				return s == nil || s.Next == a.N // idle clients may leave at any time
			}
			return s != nil && s.Next == a.N
		}
		srv.On("message."+bench.Topic, serverListener(a.Listener, func(p payload, id string) {
			if total == 0 {
				first, cpuFirst = time.Now(), bench.CPUTime()
			}
			if id != lastID || seq == nil {
				if seq = seqs[id]; seq == nil {
					seq = &bench.Seq{Name: "server, client " + id, Max: a.N, Len: size}
					seqs[id] = seq
					if a.Scenario == "s7" && len(seqs) > 1 {
						bench.Failf("server: S7 has one sender, and a second client sent")
					}
				}
				lastID = id
			}
			bench.Check(p.check(seq))
			total++
			if total == want {
				last, cpuLast = time.Now(), bench.CPUTime()
				close(done)
			}
		}))
		bench.StartProfile(a.CPUProfile)
		bench.Check(srv.Listen())
		bench.Emit("ready", nil)
		bench.Within(limit, done, "all messages")
		result["received"] = total
		result["elapsed_ns"] = last.Sub(first).Nanoseconds()
		if a.Scenario == "s7" {
			result["cpu_ns"] = (cpuLast - cpuFirst).Nanoseconds()
		}

	case "s6":
		// Large messages echoed; the client keeps at most -inflight unanswered.
		seq := bench.Seq{Name: "server", Max: a.N, Len: a.Size}
		complete = func(string) bool { return seq.Next == a.N }
		srv.On("message."+bench.Topic, serverListener(a.Listener, func(p payload, id string) {
			bench.Check(p.check(&seq))
			bench.Check(srv.Send(bench.Topic, p.value(), id))
		}))
		bench.StartProfile(a.CPUProfile)
		bench.Check(srv.Listen())
		bench.Emit("ready", nil)
		bench.Within(limit, allGone, "the client to finish")
		result["echoed"] = seq.Next

	case "s3":
		seq := bench.Seq{Name: "server", Max: a.Warmup + a.N}
		total := a.Warmup + a.N
		complete = func(string) bool { return seq.Next == total }
		srv.On("message."+bench.Topic, serverListener(a.Listener, func(p payload, id string) {
			bench.Check(p.check(&seq))
			bench.Check(srv.Send(bench.Topic, p.value(), id))
		}))
		bench.StartProfile(a.CPUProfile)
		bench.Check(srv.Listen())
		bench.Emit("ready", nil)
		bench.Within(limit, allGone, "the client to finish")
		result["echoed"] = seq.Next

	case "s3r":
		seq := bench.Seq{Name: "server", Max: a.Warmup + a.N}
		total := a.Warmup + a.N
		complete = func(string) bool { return seq.Next == total }
		server.Handle(srv, bench.Topic, func(_ context.Context, p string, _ string) (string, error) {
			bench.Check(seq.CheckString(p))
			return p, nil
		})
		bench.StartProfile(a.CPUProfile)
		bench.Check(srv.Listen())
		bench.Emit("ready", nil)
		bench.Within(limit, allGone, "the client to finish")
		result["echoed"] = seq.Next
	}
	bench.Within(limit, allGone, "the clients to disconnect")
	bench.Check(srv.Close())
	bench.StopProfile()
	bench.Emit("result", result)
}

func newClient(a bench.Args, name string) *client.Client {
	cli, err := client.New(client.Options{
		SocketFile: a.Socket,
		RetryDelay: backoff.Constant(10 * time.Millisecond),
	})
	bench.Check(err)
	closing := new(atomic.Bool)
	cli.On("error", func(err error) {
		if errors.Is(err, message.ErrQueueFull) && sendWaits.Load() {
			return // sendWaiting waits for the queue to drain
		}
		bench.Failf("%s: error event: %v", name, err)
	})
	cli.On("disconnect", func() {
		if !closing.Load() {
			bench.Failf("%s: disconnected", name)
		}
	})
	cli.On("close", func() {})
	closers = append(closers, func() error { closing.Store(true); return cli.Close() })
	return cli
}

var closers []func() error

// sendWaits is set when senders wait for the queue to drain when it is
// full, as an application sending a long burst does (S4: 200,000 orders
// are more than the default 64 MiB queue).
var sendWaits atomic.Bool

// sendWaiting sends msg, waiting for a "drain" event whenever the queue is full.
func sendWaiting(cli *client.Client, drained <-chan struct{}, topic string, msg any) {
	for {
		err := cli.Send(topic, msg)
		if !errors.Is(err, message.ErrQueueFull) {
			bench.Check(err)
			return
		}
		<-drained
	}
}

// connectAll makes k clients, connects them all and waits until they are;
// each one's drained channel is signalled by its "drain" event.
func connectAll(a bench.Args, k int) ([]*client.Client, []chan struct{}) {
	clis := make([]*client.Client, k)
	drained := make([]chan struct{}, k)
	var connected atomic.Int32
	all := make(chan struct{})
	for j := range clis {
		cli := newClient(a, "client "+strconv.Itoa(j))
		ch := make(chan struct{}, 1)
		cli.On("drain", func() {
			select {
			case ch <- struct{}{}:
			default:
			}
		})
		cli.Once("connect", func() {
			if int(connected.Add(1)) == k {
				close(all)
			}
		})
		bench.Check(cli.Connect())
		clis[j], drained[j] = cli, ch
	}
	bench.Within(limit, all, "every client to connect")
	return clis, drained
}

func closeAll() {
	for _, c := range closers {
		bench.Check(c())
	}
}

func runClient(a bench.Args) {
	result := map[string]any{"role": "client", "impl": "lib"}
	switch a.Scenario {
	case "s1":
		payloads := bench.Payloads(a.N)
		bench.StartProfile(a.CPUProfile)
		cli := newClient(a, "client")
		connected := make(chan struct{})
		cli.Once("connect", func() { close(connected) })
		bench.Check(cli.Connect())
		bench.Within(limit, connected, "connect")
		for _, p := range payloads {
			bench.Check(cli.Send(bench.Topic, p))
		}
		closeAll()
		result["sent"] = a.N

	case "s4", "s4b", "s4c":
		// S4, S4b: each order's JSON, as an application forwards what it
		// holds encoded (json.RawMessage); S4c: the Order struct, encoded by Send.
		bench.MakeOrder(0) // the templates, before timing
		bench.StartProfile(a.CPUProfile)
		sendWaits.Store(true)
		cli := newClient(a, "client")
		drained := make(chan struct{}, 1)
		cli.On("drain", func() {
			select {
			case drained <- struct{}{}:
			default:
			}
		})
		connected := make(chan struct{})
		cli.Once("connect", func() { close(connected) })
		bench.Check(cli.Connect())
		bench.Within(limit, connected, "connect")
		var buf []byte
		for i := range a.N {
			if a.Scenario == "s4c" {
				sendWaiting(cli, drained, bench.OrderTopic, bench.MakeOrder(i))
				continue
			}
			buf = bench.AppendOrderJSON(buf[:0], i)
			sendWaiting(cli, drained, bench.OrderTopic, json.RawMessage(buf))
		}
		closeAll()
		result["sent"] = a.N

	case "s5":
		// Every client sends the same N payloads, all clients at once.
		payloads := bench.Payloads(a.N)
		bench.StartProfile(a.CPUProfile)
		sendWaits.Store(true)
		clis, drained := connectAll(a, a.Clients)
		var wg sync.WaitGroup
		for k, cli := range clis {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, p := range payloads {
					sendWaiting(cli, drained[k], bench.Topic, p)
				}
			}()
		}
		wg.Wait()
		closeAll()
		result["sent"] = a.N * a.Clients

	case "s6":
		// Message i is slot i % InFlight with i written at its start; a slot
		// is rewritten only after the echo of the message it held arrived
		// and was compared, so that message was entirely written by then,
		// whatever Send does with the string. Sending a string made from
		// the slot (no copy) keeps 1 MiB of garbage per message out of the
		// client's memory, which S6 measures.
		slots := make([][]byte, a.InFlight)
		for j := range slots {
			slots[j] = bench.SizedPayload(a.Size)
		}
		inFlight := make(chan struct{}, a.InFlight)
		seq := bench.Seq{Name: "client", Max: a.N, Len: a.Size}
		done := make(chan struct{})
		var end time.Time
		bench.StartProfile(a.CPUProfile)
		cli := newClient(a, "client")
		cli.On("message."+bench.Topic, clientListener(a.Listener, func(p payload) {
			i := seq.Next
			bench.Check(p.check(&seq))
			if !p.equalsBytes(slots[i%len(slots)]) {
				bench.Failf("client: echo %d is not the message sent", i)
			}
			<-inFlight
			if seq.Next == a.N {
				end = time.Now()
				close(done)
			}
		}))
		connected := make(chan struct{})
		cli.Once("connect", func() { close(connected) })
		bench.Check(cli.Connect())
		bench.Within(limit, connected, "connect")
		start := time.Now()
		for i := range a.N {
			inFlight <- struct{}{}
			slot := slots[i%len(slots)]
			bench.PutIndex(slot, i)
			bench.Check(cli.Send(bench.Topic, unsafe.String(&slot[0], len(slot))))
		}
		bench.Within(limit, done, "every echo")
		closeAll()
		result["received"] = seq.Next
		result["elapsed_ns"] = end.Sub(start).Nanoseconds()

	case "s7":
		// One client sends, the others stay connected and idle. The payload
		// is sent as json.RawMessage from one buffer (Send copies it), as in S4.
		buf := append(append([]byte{'"'}, bench.SizedPayload(a.Size)...), '"')
		bench.StartProfile(a.CPUProfile)
		sendWaits.Store(true)
		clis, drained := connectAll(a, a.Clients)
		for i := range a.N {
			bench.PutIndex(buf[1:], i)
			sendWaiting(clis[0], drained[0], bench.Topic, json.RawMessage(buf))
		}
		closeAll()
		result["sent"] = a.N

	case "s2":
		bench.StartProfile(a.CPUProfile)
		var finished atomic.Int32
		allDone := make(chan struct{})
		seqs := make([]*bench.Seq, a.Clients)
		for k := range a.Clients {
			name := "client " + strconv.Itoa(k)
			cli := newClient(a, name)
			seq := &bench.Seq{Name: name, Max: a.N}
			seqs[k] = seq
			cli.On("message."+bench.Topic, clientListener(a.Listener, func(p payload) {
				bench.Check(p.check(seq))
				if seq.Next == a.N {
					bench.Check(cli.Send(bench.AckTopic, true))
					if int(finished.Add(1)) == a.Clients {
						close(allDone)
					}
				}
			}))
			bench.Check(cli.Connect())
		}
		bench.Within(limit, allDone, "all messages at every client")
		closeAll()
		received := make([]int, len(seqs))
		for k, s := range seqs {
			received[k] = s.Next
		}
		result["received"] = received

	case "s3":
		total := a.Warmup + a.N
		payloads := bench.Payloads(total)
		lat := make([]int64, 0, a.N)
		seq := bench.Seq{Name: "client", Max: total}
		done := make(chan struct{})
		bench.StartProfile(a.CPUProfile)
		cli := newClient(a, "client")
		var t0 time.Time
		cli.Once("connect", func() {
			t0 = time.Now()
			bench.Check(cli.Send(bench.Topic, payloads[0]))
		})
		cli.On("message."+bench.Topic, clientListener(a.Listener, func(p payload) {
			d := time.Since(t0)
			i := seq.Next
			bench.Check(p.check(&seq))
			if !p.equals(payloads[i]) {
				bench.Failf("client: reply %d is not the request echoed", i)
			}
			if i >= a.Warmup {
				lat = append(lat, d.Nanoseconds())
			}
			if seq.Next == total {
				close(done)
				return
			}
			t0 = time.Now()
			bench.Check(cli.Send(bench.Topic, payloads[seq.Next]))
		}))
		bench.Check(cli.Connect())
		bench.Within(limit, done, "all round trips")
		closeAll()
		result["latencies_ns"] = lat

	case "s3r":
		// A synchronous caller: one goroutine sends each request and waits
		// for its reply, as raw Go's write-then-read does.
		total := a.Warmup + a.N
		payloads := bench.Payloads(total)
		lat := make([]int64, 0, a.N)
		bench.StartProfile(a.CPUProfile)
		cli := newClient(a, "client")
		bench.Check(cli.Connect())
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		defer cancel()
		bench.Check(cli.WaitConnected(ctx))
		var reply string
		for i, p := range payloads {
			t0 := time.Now()
			bench.Check(cli.Request(ctx, bench.Topic, p, &reply))
			d := time.Since(t0)
			if reply != p {
				bench.Failf("client: reply %d is not the request echoed", i)
			}
			if i >= a.Warmup {
				lat = append(lat, d.Nanoseconds())
			}
		}
		closeAll()
		result["latencies_ns"] = lat
	}
	bench.StopProfile()
	bench.Emit("result", result)
}
