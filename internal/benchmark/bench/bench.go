// Package bench is what the benchmark peers (libpeer, rawpeer) share with
// the driver: the command line of a peer, the messages, the order check,
// and the JSON lines a peer reports on stdout.
//
// A peer is started as
//
//	<peer> server|client -scenario s1|s2|s3|s3r|s4|s4b|s4c|s5|s6|s7 -socket PATH -n N
//		[-clients K] [-warmup W] [-size B] [-inflight F] [-cpuprofile FILE]
//
// A server prints {"event":"ready"} once it listens. Each side prints one
// {"event":"result",...} line when done and exits 0; any failure (a message
// lost, duplicated or out of order, an error event) is printed to stderr as
// "FAIL: ..." and exits 1. The Node peer (internal/benchmark/node/peer.js)
// speaks the same protocol.
package bench

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Topic is the topic of every scenario message; AckTopic is S2's "I have
// them all" message from each client to the server.
const (
	Topic    = "hello"
	AckTopic = "done"
)

// RandLen is the length of the random part of each payload.
const RandLen = 32

// Args is a peer's command line.
type Args struct {
	Role       string // "server" or "client"
	Scenario   string // "s1", "s2", "s3", "s3r" (request/reply); "s4", "s4b", "s4c" (orders: see Order); "s5", "s6", "s7"
	Socket     string
	N          int // messages (S1, S2, S4-S7; per client in S5) or measured round trips (S3)
	Clients    int // S2, S5; S7: connected clients, of which one sends
	Warmup     int // S3 round trips before measuring
	Size       int // S6, S7: payload length in bytes (see PutIndex)
	InFlight   int // S6: messages sent and not yet echoed, at most
	CPUProfile string
	MemProfile string // the allocations (pprof "allocs": sampled sites, bytes and objects), written at the end
	Trace      string // an execution trace (runtime/trace), from where the CPU profile would start
	Listener   string // libpeer only: the listener's message type (raw, string, any)
}

// Parse reads a peer's command line: the role, then flags.
func Parse() Args {
	if len(os.Args) < 2 || (os.Args[1] != "server" && os.Args[1] != "client") {
		Failf("usage: %s server|client -scenario s1|s2|s3|s4|s4b|s4c|s5|s6|s7 -socket PATH -n N [-clients K] [-warmup W] [-size B] [-inflight F]", os.Args[0])
	}
	a := Args{Role: os.Args[1]}
	fs := flag.NewFlagSet(os.Args[0]+" "+a.Role, flag.ExitOnError)
	fs.StringVar(&a.Scenario, "scenario", "", "s1, s2, s3, s3r, s4, s4b, s4c, s5, s6 or s7")
	fs.StringVar(&a.Socket, "socket", "", "socket file")
	fs.IntVar(&a.N, "n", 0, "messages (S1, S2, S4-S7; per client in S5) or measured round trips (S3)")
	fs.IntVar(&a.Clients, "clients", 8, "clients (S2, S5, S7)")
	fs.IntVar(&a.Warmup, "warmup", 0, "warm-up round trips (S3)")
	fs.IntVar(&a.Size, "size", 1<<20, "payload bytes (S6, S7)")
	fs.IntVar(&a.InFlight, "inflight", 8, "messages in flight, at most (S6)")
	fs.StringVar(&a.CPUProfile, "cpuprofile", "", "write a CPU profile here")
	fs.StringVar(&a.MemProfile, "memprofile", "", "write an allocation profile here at the end")
	fs.StringVar(&a.Trace, "trace", "", "write an execution trace (go tool trace) here")
	fs.StringVar(&a.Listener, "listener", "raw", "message parameter type of the library's listeners: raw (json.RawMessage), string or any")
	_ = fs.Parse(os.Args[2:])
	memProfile = a.MemProfile
	traceFile = a.Trace
	switch {
	case !slices.Contains([]string{"s1", "s2", "s3", "s3r", "s4", "s4b", "s4c", "s5", "s6", "s7"}, a.Scenario):
		Failf("bad -scenario %q", a.Scenario)
	case a.Socket == "":
		Failf("-socket is required")
	case a.N <= 0:
		Failf("-n must be positive")
	case a.Clients <= 0:
		Failf("-clients must be positive")
	case a.Size < MinSize:
		Failf("-size must be at least %d", MinSize)
	case a.InFlight <= 0:
		Failf("-inflight must be positive")
	}
	return a
}

// Payloads returns n payloads "<i>:" + 32 random lower-case letters, made
// before any timing starts.
func Payloads(n int) []string {
	p := make([]string, n)
	var r [RandLen]byte
	for i := range p {
		for j := range r {
			r[j] = byte('a' + rand.IntN(26))
		}
		p[i] = strconv.Itoa(i) + ":" + string(r[:])
	}
	return p
}

// IndexWidth is the number of digits of the index that starts each sized
// payload (S6, S7); MinSize is the shortest sized payload.
const (
	IndexWidth = 8
	MinSize    = IndexWidth + 2
)

// SizedPayload returns a payload of size bytes: room for the index (see
// PutIndex), then random lower-case letters. Senders reuse it, writing each
// message's index with PutIndex, so that large payloads cost no allocation.
func SizedPayload(size int) []byte {
	if size < MinSize {
		Failf("payload size %d is below %d", size, MinSize)
	}
	b := make([]byte, size)
	for j := IndexWidth + 1; j < size; j++ {
		b[j] = byte('a' + rand.IntN(26))
	}
	PutIndex(b, 0)
	return b
}

// PutIndex writes i as IndexWidth zero-padded digits and ':' at the start
// of a sized payload, which Seq (with Len set) parses like "<i>:".
func PutIndex(b []byte, i int) {
	for j := IndexWidth - 1; j >= 0; j-- {
		b[j] = byte('0' + i%10)
		i /= 10
	}
	b[IndexWidth] = ':'
}

// Seq checks that payloads arrive as 0, 1, 2, ... with nothing lost,
// duplicated or reordered.
type Seq struct {
	Name string // for messages: "server", "client 3"
	Next int
	Max  int // how many are expected; one more is an error
	Len  int // the whole payload's length (sized payloads); 0: "<i>:" + RandLen letters
}

// CheckString checks a decoded payload.
func (s *Seq) CheckString(p string) error { return checkSeq(s, p) }

// CheckJSON checks an encoded payload: a JSON string without escapes, as the
// scenario payloads are.
func (s *Seq) CheckJSON(raw []byte) error {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return fmt.Errorf("%s: message %d: payload %.60q is not a JSON string", s.Name, s.Next, raw)
	}
	return checkSeq(s, raw[1:len(raw)-1])
}

// checkSeq parses the "<i>:" prefix without allocating.
func checkSeq[T ~string | ~[]byte](s *Seq, p T) error {
	i, n := 0, 0
	for n < len(p) && n < 10 && p[n] >= '0' && p[n] <= '9' {
		i = i*10 + int(p[n]-'0')
		n++
	}
	switch {
	case s.Next >= s.Max:
		return fmt.Errorf("%s: a message after the %d expected ones: %.60q", s.Name, s.Max, string(p))
	case n == 0 || n >= len(p) || p[n] != ':':
		return fmt.Errorf("%s: message %d: malformed payload %.60q", s.Name, s.Next, string(p))
	case i != s.Next:
		what := "out of order (an earlier one lost?)"
		if i < s.Next {
			what = "duplicated or reordered"
		}
		return fmt.Errorf("%s: expected message %d, got %d: %s", s.Name, s.Next, i, what)
	case s.Len == 0 && len(p)-n-1 != RandLen:
		return fmt.Errorf("%s: message %d: payload %.60q has a random part of %d bytes, want %d", s.Name, i, string(p), len(p)-n-1, RandLen)
	case s.Len > 0 && len(p) != s.Len:
		return fmt.Errorf("%s: message %d: payload %.60q... is %d bytes, want %d", s.Name, i, string(p[:min(len(p), 60)]), len(p), s.Len)
	}
	s.Next++
	return nil
}

var outMu sync.Mutex

// Emit prints one JSON line on stdout.
func Emit(event string, fields map[string]any) {
	m := map[string]any{"event": event}
	for k, v := range fields {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		Failf("encode %s: %v", event, err)
	}
	outMu.Lock()
	defer outMu.Unlock()
	os.Stdout.Write(append(b, '\n'))
}

var (
	profMu   sync.Mutex
	profFile *os.File
)

// StartProfile starts the CPU profile and the execution trace, if asked for.
func StartProfile(path string) {
	startTrace()
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		Failf("cpu profile: %v", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		Failf("cpu profile: %v", err)
	}
	profMu.Lock()
	profFile = f
	profMu.Unlock()
}

// traceFile is where StartProfile writes an execution trace, if asked;
// traceOut is that file while the trace runs.
var traceFile string
var traceOut *os.File

func startTrace() {
	if traceFile == "" {
		return
	}
	f, err := os.Create(traceFile)
	if err != nil {
		Failf("trace: %v", err)
	}
	if err := trace.Start(f); err != nil {
		Failf("trace: %v", err)
	}
	profMu.Lock()
	traceOut = f
	profMu.Unlock()
	traceFile = ""
}

// memProfile is where StopProfile writes the allocation profile, if asked.
var memProfile string

// StopProfile ends and writes the CPU profile, if one is running, and the
// allocation profile, if one was asked for.
func StopProfile() {
	profMu.Lock()
	defer profMu.Unlock()
	if traceOut != nil {
		trace.Stop()
		traceOut.Close()
		traceOut = nil
	}
	if profFile != nil {
		pprof.StopCPUProfile()
		profFile.Close()
		profFile = nil
	}
	if memProfile != "" {
		if f, err := os.Create(memProfile); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
		memProfile = ""
	}
}

// Failf reports a failure and exits 1.
func Failf(format string, args ...any) {
	StopProfile()
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

// Check fails on a non-nil error.
func Check(err error) {
	if err != nil {
		Failf("%v", err)
	}
}

// Within fails with what if done is not closed within d.
func Within(d time.Duration, done <-chan struct{}, what string) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		Failf("timed out after %v waiting for %s", d, what)
	}
}

// Latencies returns a slice for round-trip times in nanoseconds.
func Latencies(n int) []int64 { return make([]int64, 0, n) }
