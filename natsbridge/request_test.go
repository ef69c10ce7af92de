package natsbridge_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/natsbridge"
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
	if !errors.As(err, &remote) || !strings.Contains(err.Error(), "nothing to add") {
		t.Fatalf("handler failure: %v", err)
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
