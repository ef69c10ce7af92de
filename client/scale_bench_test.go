package client_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/server"
)

// BenchmarkEcho1MiB is S6 of scripts/bench in one process: a library
// client sends 1 MiB JSON strings, at most 8 unanswered, and a library
// server echoes each back. One op is one message sent and its echo
// received and compared; the bytes are counted one way.
func BenchmarkEcho1MiB(b *testing.B) {
	const size, inFlight = 1 << 20, 8
	filler := strings.Repeat("abcdefghijklmnopqrstuvwxyz", size/26+1)
	payload := func(i int) string {
		p := strconv.Itoa(i) + ":"
		return p + filler[:size-len(p)]
	}
	// The payloads of the slots in flight, made before timing.
	sent := make([]string, inFlight)
	for j := range sent {
		sent[j] = payload(j)
	}

	var errs errBox
	path := testsock.Path(b)
	srv, err := server.New(server.Options{SocketFile: path})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	srv.On("error", func(err error) { errs.set(err) })
	srv.On("message.hello", func(msg json.RawMessage, id string) {
		if err := srv.Send("hello", msg, id); err != nil {
			errs.set(err)
		}
	})
	if err := srv.Listen(); err != nil {
		b.Fatal(err)
	}
	cli, connected := newBenchClient(b, path, &errs)
	defer cli.Close()
	n, got := b.N, 0
	slots := make(chan struct{}, inFlight)
	done := make(chan struct{})
	cli.On("message.hello", func(msg json.RawMessage) {
		if len(msg) != size+2 || string(msg[1:size+1]) != sent[got%inFlight] {
			errs.set(fmt.Errorf("echo %d is not the message sent (%d bytes, starts %.20q)", got, len(msg), msg))
		}
		got++
		<-slots
		if got == n {
			close(done)
		}
	})
	if err := cli.Connect(); err != nil {
		b.Fatal(err)
	}
	waitFor(b, connected, "connect", &errs)

	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range n {
		slots <- struct{}{}
		if err := cli.Send("hello", sent[i%inFlight]); err != nil {
			b.Fatal(err)
		}
	}
	waitFor(b, done, "every echo", &errs)
	b.StopTimer()
	if err := errs.get(); err != nil {
		b.Fatal(err)
	}
}
