// Command rawpeer is implementation (c) of the benchmark: a plain Go
// program on raw unix sockets with the library's framing, the baseline the
// library is measured against. Frames are written with encoding/json of
// {Topic string; Message any} through a bufio.Writer followed by "\0\0";
// they are read with a bufio.Reader, split on "\0\0", and each is decoded
// with encoding/json into {Topic string; Message json.RawMessage}. See
// package bench for the command line and what it prints.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
	"unsafe"

	"github.com/socketipc/socketipc/internal/benchmark/bench"
)

var delim = []byte{0, 0}

type outEnvelope struct {
	Topic   string `json:"topic"`
	Message any    `json:"message"`
}

type inEnvelope struct {
	Topic   string          `json:"topic"`
	Message json.RawMessage `json:"message"`
}

// writeFrame encodes one frame into w.
func writeFrame(w *bufio.Writer, topic string, msg any) error {
	b, err := json.Marshal(outEnvelope{Topic: topic, Message: msg})
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	_, err = w.Write(delim)
	return err
}

// frameReader splits a stream on "\0\0".
type frameReader struct {
	s *bufio.Scanner
}

func newFrameReader(r io.Reader) *frameReader {
	s := bufio.NewScanner(bufio.NewReaderSize(r, 64<<10))
	s.Buffer(make([]byte, 64<<10), 16<<20)
	s.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.Index(data, delim); i >= 0 {
			return i + 2, data[:i], nil
		}
		if atEOF && len(data) > 0 {
			return 0, nil, errors.New("stream ends inside a frame")
		}
		return 0, nil, nil
	})
	return &frameReader{s: s}
}

// next reads and decodes one frame; io.EOF at a clean end.
func (fr *frameReader) next(env *inEnvelope) error {
	if !fr.s.Scan() {
		if err := fr.s.Err(); err != nil {
			return err
		}
		return io.EOF
	}
	*env = inEnvelope{}
	if err := json.Unmarshal(fr.s.Bytes(), env); err != nil {
		return fmt.Errorf("decode frame: %w", err)
	}
	return nil
}

func main() {
	a := bench.Parse()
	if a.Role == "server" {
		runServer(a)
	} else {
		runClient(a)
	}
	bench.StopProfile()
}

func listen(path string) *net.UnixListener {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		os.Remove(path)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	bench.Check(err)
	return ln
}

func runServer(a bench.Args) {
	var payloads []string
	if a.Scenario == "s2" {
		payloads = bench.Payloads(a.N)
	}
	bench.StartProfile(a.CPUProfile)
	ln := listen(a.Socket)
	defer ln.Close()
	result := map[string]any{"role": "server", "impl": "raw"}
	switch a.Scenario {
	case "s1":
		bench.Emit("ready", nil)
		c, err := ln.AcceptUnix()
		bench.Check(err)
		fr := newFrameReader(c)
		seq := bench.Seq{Name: "server", Max: a.N}
		var env inEnvelope
		var first, last time.Time
		for seq.Next < a.N {
			if err := fr.next(&env); err != nil {
				bench.Failf("server: after %d of %d messages: %v", seq.Next, a.N, err)
			}
			if seq.Next == 0 {
				first = time.Now()
			}
			checkTopic(env.Topic, bench.Topic)
			bench.Check(seq.CheckJSON(env.Message))
		}
		last = time.Now()
		expectEOF(fr, "server")
		c.Close()
		result["received"] = seq.Next
		result["elapsed_ns"] = last.Sub(first).Nanoseconds()

	case "s2":
		bench.Emit("ready", nil)
		conns := make([]*net.UnixConn, a.Clients)
		writers := make([]*bufio.Writer, a.Clients)
		for k := range conns {
			c, err := ln.AcceptUnix()
			bench.Check(err)
			conns[k], writers[k] = c, bufio.NewWriter(c)
		}
		// Each connection's reader waits for the client's ack, then its end.
		var wg sync.WaitGroup
		acks := make(chan time.Time, a.Clients)
		for k, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				fr := newFrameReader(c)
				var env inEnvelope
				if err := fr.next(&env); err != nil {
					bench.Failf("server: client %d: waiting for its ack: %v", k, err)
				}
				checkTopic(env.Topic, bench.AckTopic)
				acks <- time.Now()
				expectEOF(fr, "server")
			}()
		}
		start := time.Now()
		for _, p := range payloads {
			// Encode once, write to every client.
			b, err := json.Marshal(outEnvelope{Topic: bench.Topic, Message: p})
			bench.Check(err)
			for _, w := range writers {
				w.Write(b)
				if _, err := w.Write(delim); err != nil {
					bench.Failf("server: broadcast: %v", err)
				}
			}
		}
		for _, w := range writers {
			bench.Check(w.Flush())
		}
		var end time.Time
		for range a.Clients {
			t := <-acks
			if t.After(end) {
				end = t
			}
		}
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
		result["sent"] = a.N
		result["acks"] = a.Clients
		result["elapsed_ns"] = end.Sub(start).Nanoseconds()

	case "s4", "s4b", "s4c":
		// Each frame decoded with encoding/json into an envelope whose
		// message is the Order struct (S4, S4c) or any (S4b).
		bench.Emit("ready", nil)
		c, err := ln.AcceptUnix()
		bench.Check(err)
		fr := newFrameReader(c)
		seq := bench.OrderSeq{Name: "server", Max: a.N}
		var first, last time.Time
		for seq.Next < a.N {
			if !fr.s.Scan() {
				bench.Failf("server: after %d of %d orders: %v", seq.Next, a.N, fr.s.Err())
			}
			if seq.Next == 0 {
				first = time.Now()
			}
			if a.Scenario == "s4b" {
				var env struct {
					Topic   string `json:"topic"`
					Message any    `json:"message"`
				}
				if err := json.Unmarshal(fr.s.Bytes(), &env); err != nil {
					bench.Failf("server: decode frame: %v", err)
				}
				checkTopic(env.Topic, bench.OrderTopic)
				bench.Check(seq.CheckAny(env.Message))
				continue
			}
			var env struct {
				Topic   string      `json:"topic"`
				Message bench.Order `json:"message"`
			}
			if err := json.Unmarshal(fr.s.Bytes(), &env); err != nil {
				bench.Failf("server: decode frame: %v", err)
			}
			checkTopic(env.Topic, bench.OrderTopic)
			bench.Check(seq.Check(&env.Message))
		}
		last = time.Now()
		expectEOF(fr, "server")
		c.Close()
		result["received"] = seq.Next
		result["elapsed_ns"] = last.Sub(first).Nanoseconds()

	case "s5", "s7":
		// One goroutine per connection, each checking its client's
		// messages; S5: every client sends N, S7: one of them does.
		bench.Emit("ready", nil)
		conns := make([]*net.UnixConn, a.Clients)
		for k := range conns {
			c, err := ln.AcceptUnix()
			bench.Check(err)
			conns[k] = c
		}
		size := 0
		if a.Scenario == "s7" {
			size = a.Size
		}
		type span struct {
			received          int
			first, last       time.Time
			cpuFirst, cpuLast time.Duration
		}
		spans := make([]span, len(conns))
		var wg sync.WaitGroup
		for k, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				fr := newFrameReader(c)
				seq := bench.Seq{Name: fmt.Sprintf("server, client %d", k), Max: a.N, Len: size}
				sp := &spans[k]
				var env inEnvelope
				for {
					err := fr.next(&env)
					if err == io.EOF {
						break
					}
					if err != nil {
						bench.Failf("%s: after %d messages: %v", seq.Name, seq.Next, err)
					}
					if seq.Next == 0 {
						sp.first, sp.cpuFirst = time.Now(), bench.CPUTime()
					}
					checkTopic(env.Topic, bench.Topic)
					bench.Check(seq.CheckJSON(env.Message))
					if seq.Next == a.N {
						sp.last, sp.cpuLast = time.Now(), bench.CPUTime()
					}
				}
				if seq.Next != a.N && (a.Scenario == "s5" || seq.Next != 0) {
					bench.Failf("%s: the client left after %d of %d messages", seq.Name, seq.Next, a.N)
				}
				sp.received = seq.Next
				c.Close()
			}()
		}
		wg.Wait()
		total, senders := 0, 0
		var first, last time.Time
		var cpu time.Duration
		for _, sp := range spans {
			if sp.received == 0 {
				continue
			}
			total += sp.received
			senders++
			if first.IsZero() || sp.first.Before(first) {
				first = sp.first
			}
			if sp.last.After(last) {
				last = sp.last
			}
			cpu = sp.cpuLast - sp.cpuFirst // S7's one sender
		}
		if a.Scenario == "s7" && senders != 1 {
			bench.Failf("server: S7 has one sender, and %d clients sent", senders)
		}
		result["received"] = total
		result["elapsed_ns"] = last.Sub(first).Nanoseconds()
		if a.Scenario == "s7" {
			result["cpu_ns"] = cpu.Nanoseconds()
		}

	case "s6":
		bench.Emit("ready", nil)
		c, err := ln.AcceptUnix()
		bench.Check(err)
		fr := newFrameReader(c)
		w := bufio.NewWriter(c)
		seq := bench.Seq{Name: "server", Max: a.N, Len: a.Size}
		var env inEnvelope
		for {
			err := fr.next(&env)
			if err == io.EOF {
				break
			}
			bench.Check(err)
			checkTopic(env.Topic, bench.Topic)
			bench.Check(seq.CheckJSON(env.Message))
			bench.Check(writeFrame(w, bench.Topic, env.Message))
			bench.Check(w.Flush())
		}
		if seq.Next != a.N {
			bench.Failf("server: the client left after %d of %d messages", seq.Next, a.N)
		}
		c.Close()
		result["echoed"] = seq.Next

	case "s3", "s3r": // S3r compares Request with this very write-then-read
		bench.Emit("ready", nil)
		c, err := ln.AcceptUnix()
		bench.Check(err)
		fr := newFrameReader(c)
		w := bufio.NewWriter(c)
		seq := bench.Seq{Name: "server", Max: a.Warmup + a.N}
		var env inEnvelope
		for {
			err := fr.next(&env)
			if err == io.EOF {
				break
			}
			bench.Check(err)
			checkTopic(env.Topic, bench.Topic)
			bench.Check(seq.CheckJSON(env.Message))
			bench.Check(writeFrame(w, bench.Topic, env.Message))
			bench.Check(w.Flush())
		}
		if seq.Next != a.Warmup+a.N {
			bench.Failf("server: the client left after %d of %d round trips", seq.Next, a.Warmup+a.N)
		}
		c.Close()
		result["echoed"] = seq.Next
	}
	bench.StopProfile()
	bench.Emit("result", result)
}

func checkTopic(got, want string) {
	if got != want {
		bench.Failf("topic %q, want %q", got, want)
	}
}

// expectEOF checks that nothing follows the last expected frame.
func expectEOF(fr *frameReader, who string) {
	var env inEnvelope
	if err := fr.next(&env); err != io.EOF {
		bench.Failf("%s: expected the end of the stream, got a frame (topic %q) or error %v", who, env.Topic, err)
	}
}

func dial(path string) *net.UnixConn {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			bench.Failf("dial: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func runClient(a bench.Args) {
	result := map[string]any{"role": "client", "impl": "raw"}
	switch a.Scenario {
	case "s1":
		payloads := bench.Payloads(a.N)
		bench.StartProfile(a.CPUProfile)
		c := dial(a.Socket)
		w := bufio.NewWriter(c)
		for _, p := range payloads {
			if err := writeFrame(w, bench.Topic, p); err != nil {
				bench.Failf("client: send: %v", err)
			}
		}
		bench.Check(w.Flush())
		bench.Check(c.CloseWrite())
		// Wait for the server to end its side.
		io.Copy(io.Discard, c)
		c.Close()
		result["sent"] = a.N

	case "s4", "s4b", "s4c":
		// S4, S4b: each order's JSON as a json.RawMessage; S4c: the Order struct.
		bench.MakeOrder(0) // the templates, before timing
		bench.StartProfile(a.CPUProfile)
		c := dial(a.Socket)
		w := bufio.NewWriter(c)
		var buf []byte
		for i := range a.N {
			var msg any
			if a.Scenario == "s4c" {
				msg = bench.MakeOrder(i)
			} else {
				buf = bench.AppendOrderJSON(buf[:0], i)
				msg = json.RawMessage(buf)
			}
			if err := writeFrame(w, bench.OrderTopic, msg); err != nil {
				bench.Failf("client: send: %v", err)
			}
		}
		bench.Check(w.Flush())
		bench.Check(c.CloseWrite())
		io.Copy(io.Discard, c)
		c.Close()
		result["sent"] = a.N

	case "s5":
		// Every client sends the same N payloads, all clients at once.
		payloads := bench.Payloads(a.N)
		bench.StartProfile(a.CPUProfile)
		conns := make([]*net.UnixConn, a.Clients)
		for k := range conns {
			conns[k] = dial(a.Socket)
		}
		var wg sync.WaitGroup
		for k, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := bufio.NewWriter(c)
				for _, p := range payloads {
					if err := writeFrame(w, bench.Topic, p); err != nil {
						bench.Failf("client %d: send: %v", k, err)
					}
				}
				bench.Check(w.Flush())
				bench.Check(c.CloseWrite())
				io.Copy(io.Discard, c)
				c.Close()
			}()
		}
		wg.Wait()
		result["sent"] = a.N * a.Clients

	case "s6":
		// As the library's peer: message i is slot i % InFlight, rewritten
		// only after the echo of the message it held was compared, so the
		// string made from it (no copy) was entirely written by then.
		slots := make([][]byte, a.InFlight)
		for j := range slots {
			slots[j] = bench.SizedPayload(a.Size)
		}
		inFlight := make(chan struct{}, a.InFlight)
		bench.StartProfile(a.CPUProfile)
		c := dial(a.Socket)
		fr := newFrameReader(c)
		start := time.Now()
		go func() {
			w := bufio.NewWriter(c)
			for i := range a.N {
				inFlight <- struct{}{}
				slot := slots[i%len(slots)]
				bench.PutIndex(slot, i)
				if err := writeFrame(w, bench.Topic, unsafe.String(&slot[0], len(slot))); err != nil {
					bench.Failf("client: send %d: %v", i, err)
				}
				bench.Check(w.Flush())
			}
		}()
		seq := bench.Seq{Name: "client", Max: a.N, Len: a.Size}
		var env inEnvelope
		for seq.Next < a.N {
			i := seq.Next
			if err := fr.next(&env); err != nil {
				bench.Failf("client: waiting for echo %d: %v", i, err)
			}
			checkTopic(env.Topic, bench.Topic)
			bench.Check(seq.CheckJSON(env.Message))
			if !bytes.Equal(env.Message[1:len(env.Message)-1], slots[i%len(slots)]) {
				bench.Failf("client: echo %d is not the message sent", i)
			}
			<-inFlight
		}
		end := time.Now()
		bench.Check(c.CloseWrite())
		expectEOF(fr, "client")
		c.Close()
		result["received"] = seq.Next
		result["elapsed_ns"] = end.Sub(start).Nanoseconds()

	case "s7":
		// One connection sends, the others stay connected and idle; the
		// payload goes out as json.RawMessage from one buffer, as in S4.
		buf := append(append([]byte{'"'}, bench.SizedPayload(a.Size)...), '"')
		bench.StartProfile(a.CPUProfile)
		conns := make([]*net.UnixConn, a.Clients)
		for k := range conns {
			conns[k] = dial(a.Socket)
		}
		w := bufio.NewWriter(conns[0])
		for i := range a.N {
			bench.PutIndex(buf[1:], i)
			if err := writeFrame(w, bench.Topic, json.RawMessage(buf)); err != nil {
				bench.Failf("client: send: %v", err)
			}
		}
		bench.Check(w.Flush())
		for _, c := range conns {
			bench.Check(c.CloseWrite())
		}
		for _, c := range conns {
			io.Copy(io.Discard, c)
			c.Close()
		}
		result["sent"] = a.N

	case "s2":
		bench.StartProfile(a.CPUProfile)
		received := make([]int, a.Clients)
		conns := make([]*net.UnixConn, a.Clients)
		for k := range conns {
			conns[k] = dial(a.Socket)
		}
		var wg sync.WaitGroup
		for k, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				fr := newFrameReader(c)
				seq := bench.Seq{Name: fmt.Sprintf("client %d", k), Max: a.N}
				var env inEnvelope
				for seq.Next < a.N {
					if err := fr.next(&env); err != nil {
						bench.Failf("%s: after %d of %d messages: %v", seq.Name, seq.Next, a.N, err)
					}
					checkTopic(env.Topic, bench.Topic)
					bench.Check(seq.CheckJSON(env.Message))
				}
				w := bufio.NewWriter(c)
				bench.Check(writeFrame(w, bench.AckTopic, true))
				bench.Check(w.Flush())
				bench.Check(c.CloseWrite())
				expectEOF(fr, seq.Name)
				c.Close()
				received[k] = seq.Next
			}()
		}
		wg.Wait()
		result["received"] = received

	case "s3", "s3r": // S3r compares Request with this very write-then-read
		total := a.Warmup + a.N
		payloads := bench.Payloads(total)
		lat := make([]int64, 0, a.N)
		bench.StartProfile(a.CPUProfile)
		c := dial(a.Socket)
		fr := newFrameReader(c)
		w := bufio.NewWriter(c)
		seq := bench.Seq{Name: "client", Max: total}
		var env inEnvelope
		for i, p := range payloads {
			t0 := time.Now()
			bench.Check(writeFrame(w, bench.Topic, p))
			bench.Check(w.Flush())
			if err := fr.next(&env); err != nil {
				bench.Failf("client: waiting for reply %d: %v", i, err)
			}
			d := time.Since(t0)
			checkTopic(env.Topic, bench.Topic)
			bench.Check(seq.CheckJSON(env.Message))
			if string(env.Message[1:len(env.Message)-1]) != p {
				bench.Failf("client: reply %d is not the request echoed", i)
			}
			if i >= a.Warmup {
				lat = append(lat, d.Nanoseconds())
			}
		}
		bench.Check(c.CloseWrite())
		expectEOF(fr, "client")
		c.Close()
		result["latencies_ns"] = lat
	}
	bench.StopProfile()
	bench.Emit("result", result)
}
