package natsbridge_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/natsbridge"
	"github.com/socketipc/socketipc/server"
)

// A local client's Request is answered by a client of another Server, through
// two bridges and NATS; failures come back as failures.
func TestRequestAcrossNATS(t *testing.T) {
	ns := runNATS(t)
	asker, answerer := newHost(t), newHost(t)
	client.Handle(answerer.cli, "sum", func(_ context.Context, xs []int) (int, error) {
		if len(xs) == 0 {
			return 0, errors.New("nothing to add")
		}
		n := 0
		for _, x := range xs {
			n += x
		}
		return n, nil
	})
	bridge(t, asker, connectNATS(t, ns), natsbridge.Options{Requests: []string{"sum", "nobody"}})
	bridge(t, answerer, connectNATS(t, ns), natsbridge.Options{
		Requests: []string{"sum", "nobody"},
		Answerer: func(topic string) string {
			if topic == "sum" {
				return answerer.id
			}
			return ""
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()

	var sum int
	if err := asker.cli.Request(ctx, "sum", []int{1, 2, 3}, &sum); err != nil || sum != 6 {
		t.Fatalf("sum = %d, %v", sum, err)
	}

	var remote *message.RemoteError
	err := asker.cli.Request(ctx, "sum", []int{}, &sum)
	if !errors.As(err, &remote) || remote.Message != "nothing to add" {
		t.Fatalf("handler failure: %v (the handler's text alone, as if local)", err)
	}
	err = asker.cli.Request(ctx, "nobody", 1, nil)
	if !errors.As(err, &remote) || !strings.Contains(err.Error(), natsbridge.ErrNoAnswerer.Error()) {
		t.Fatalf("no answerer: %v", err)
	}
}

// With no bridge answering on NATS, the request fails at once, not at its
// timeout.
func TestRequestNoResponders(t *testing.T) {
	ns := runNATS(t)
	asker := newHost(t)
	bridge(t, asker, connectNATS(t, ns), natsbridge.Options{Requests: []string{"q"}})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var remote *message.RemoteError
	if err := asker.cli.Request(ctx, "q", 1, nil); !errors.As(err, &remote) || !strings.Contains(err.Error(), "no responders") {
		t.Fatalf("got %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the request waited for its timeout")
	}
}

// The reverse: each Server asks a client of the other Server by its id,
// through two bridges, and the clients' handlers answer through NATS.
// Failures come back as the errors Server.Request returns locally.
func TestServerRequestAcrossNATS(t *testing.T) {
	ns := runNATS(t)
	a, b := newHost(t), newHost(t)
	for _, h := range []*host{a, b} {
		name := h.id[:8]
		client.Handle(h.cli, "whoami", func(_ context.Context, greeting string) (string, error) {
			return greeting + ", I am " + name, nil
		})
		client.Handle(h.cli, "fail", func(context.Context, int) (int, error) {
			return 0, errors.New("it failed over there")
		})
	}
	opts := natsbridge.Options{Requests: []string{"whoami", "fail", "unhandled"}}
	ba := bridge(t, a, connectNATS(t, ns), opts)
	bb := bridge(t, b, connectNATS(t, ns), opts)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()

	var got string
	if err := ba.Request(ctx, b.id, "whoami", "hello from a", &got); err != nil || got != "hello from a, I am "+b.id[:8] {
		t.Fatalf("a asked b: %q, %v", got, err)
	}
	if err := bb.Request(ctx, a.id, "whoami", "hello from b", &got); err != nil || got != "hello from b, I am "+a.id[:8] {
		t.Fatalf("b asked a: %q, %v", got, err)
	}

	// The handler's failure: a *message.RemoteError with its text alone.
	var remote *message.RemoteError
	err := ba.Request(ctx, b.id, "fail", 1, nil)
	if !errors.As(err, &remote) || remote.Message != "it failed over there" || remote.Topic != "fail" {
		t.Fatalf("handler failure: %#v", err)
	}
	// No handler: the same RemoteError as when b's own Server asks.
	errLocal := b.srv.Request(ctx, b.id, "unhandled", 1, nil)
	var local *message.RemoteError
	if !errors.As(errLocal, &local) {
		t.Fatalf("local no handler: %v", errLocal)
	}
	err = ba.Request(ctx, b.id, "unhandled", 1, nil)
	if !errors.As(err, &remote) || *remote != *local {
		t.Fatalf("no handler across NATS: %#v, locally %#v", err, errLocal)
	}
	// No such client anywhere: a *message.SendError matching ErrBadClient,
	// as Server.Request returns for an id it does not know.
	var sendErr *message.SendError
	err = ba.Request(ctx, "5bd0a1ae-9f1d-4c3e-8c2b-1f0e7a9d2c4b", "whoami", "x", nil)
	if !errors.As(err, &sendErr) || !errors.Is(err, message.ErrBadClient) {
		t.Fatalf("unknown client: %v", err)
	}
	// A topic not bridged is refused before anything is sent.
	if err := ba.Request(ctx, b.id, "other", 1, nil); !errors.Is(err, natsbridge.ErrNotBridged) {
		t.Fatalf("topic not bridged: %v", err)
	}
	// The failures were reported on the asking Server's "error" event too.
	select {
	case <-a.errs:
	case <-time.After(wait):
		t.Fatal("no error event on the asking Server")
	}
}

// The asker's deadline travels: the answering side stops waiting for its
// client when the asker's deadline passes, not at its own RequestTimeout.
// A client whose connection ends mid-request fails it with
// ErrRequestInterrupted, as locally.
func TestServerRequestDeadlineAndInterrupt(t *testing.T) {
	ns := runNATS(t)
	a, b := newHost(t), newHost(t)
	asked := make(chan struct{}, 1)
	client.Handle(b.cli, "never", func(ctx context.Context, _ int) (int, error) {
		client.ReplyLater(ctx) // and never reply
		asked <- struct{}{}
		return 0, nil
	})
	opts := natsbridge.Options{Requests: []string{"never", "hangup"}, RequestTimeout: time.Minute}
	ba := bridge(t, a, connectNATS(t, ns), opts)
	bridge(t, b, connectNATS(t, ns), opts)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := ba.Request(ctx, b.id, "never", 1, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
	<-asked
	// b's Server gave up too, with the asker's deadline (RequestTimeout is a minute).
	deadline := time.After(wait)
	for {
		select {
		case err := <-b.errs:
			if !errors.Is(err, context.DeadlineExceeded) {
				continue
			}
			if waited := time.Since(start); waited > 30*time.Second {
				t.Fatalf("answering side waited %v", waited)
			}
		case <-deadline:
			t.Fatal("the answering side never gave up")
		}
		break
	}

	client.Handle(b.cli, "hangup", func(ctx context.Context, _ int) (int, error) {
		client.ReplyLater(ctx)
		go b.cli.Close()
		return 0, nil
	})
	ctx2, cancel2 := context.WithTimeout(context.Background(), wait)
	defer cancel2()
	if err := ba.Request(ctx2, b.id, "hangup", 1, nil); !errors.Is(err, message.ErrRequestInterrupted) {
		t.Fatalf("got %v, want ErrRequestInterrupted", err)
	}
}

// A client that connects after the bridge started can be asked as soon as
// a message it sent has crossed NATS: its bridge subscribes for it first.
func TestServerRequestNewClient(t *testing.T) {
	ns := runNATS(t)
	a, b := newHost(t), newHost(t)
	opts := natsbridge.Options{Topics: []string{"hello"}, Requests: []string{"name"}}
	ba := bridge(t, a, connectNATS(t, ns), opts)
	bridge(t, b, connectNATS(t, ns), opts)

	ids := make(chan string, 1)
	b.srv.On(server.EventConnection, func(id string) { ids <- id })
	late, err := client.New(client.Options{SocketFile: b.srv.SocketFile()})
	if err != nil {
		t.Fatal(err)
	}
	client.Handle(late, "name", func(context.Context, any) (string, error) { return "late", nil })
	if err := late.Connect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { late.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := late.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if err := late.Send("hello", "I am new"); err != nil {
		t.Fatal(err)
	}
	a.expect(t, msg{"hello", `"I am new"`})
	id := <-ids
	var name string
	if err := ba.Request(ctx, id, "name", nil, &name); err != nil || name != "late" {
		t.Fatalf("asked the new client: %q, %v", name, err)
	}
	// Once it is gone, it is unknown.
	closed := make(chan struct{})
	b.srv.On(server.EventConnectionClose, func(string) { close(closed) })
	late.Close()
	<-closed
	if err := ba.Request(ctx, id, "name", nil, nil); !errors.Is(err, message.ErrBadClient) {
		t.Fatalf("asked a client gone: %v", err)
	}
}

// When the asking bridge is one of the answering bridges (both have an
// Answerer), every request is answered, whichever bridge of the queue
// group NATS gives it to; with Answers, a bridge answers only its topics.
func TestRequestSymmetricAnswerers(t *testing.T) {
	ns := runNATS(t)
	a, b := newHost(t), newHost(t)
	for _, h := range []*host{a, b} {
		id := h.id
		client.Handle(h.cli, "who", func(context.Context, any) (string, error) { return id, nil })
	}
	bridge(t, a, connectNATS(t, ns), natsbridge.Options{
		Requests: []string{"who", "only-b"},
		Answerer: func(string) string { return a.id },
		Answers:  []string{"who"},
	})
	bridge(t, b, connectNATS(t, ns), natsbridge.Options{
		Requests: []string{"who", "only-b"},
		Answerer: func(string) string { return b.id },
	})
	client.Handle(b.cli, "only-b", func(context.Context, any) (string, error) { return "b", nil })
	answeredBy := map[string]int{}
	for i := 0; i < 40; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		var who, onlyB string
		err := a.cli.Request(ctx, "who", nil, &who)
		if err == nil {
			err = a.cli.Request(ctx, "only-b", nil, &onlyB)
		}
		cancel()
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if onlyB != "b" {
			t.Fatalf("only-b answered %q", onlyB)
		}
		answeredBy[who]++
	}
	if answeredBy[a.id]+answeredBy[b.id] != 40 {
		t.Fatalf("answered by %v", answeredBy)
	}
}
