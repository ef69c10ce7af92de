//go:build linux

// Command ipcserver is the server of the reliability tests that need one in
// a process of its own: the crash loop (which kills it with SIGKILL) and the
// load test (which measures its memory alone).
//
// It runs a server.Server on -socket and counts the "seq" messages of its
// clients. A seq message is {"c": <client name>, "n": <sequence number>, ...}:
// the name is chosen by the client and stays the same across reconnects,
// unlike the client id. It writes lines to stdout, each with one write(2),
// so that whatever it wrote survives a SIGKILL:
//
//	LISTENING                 once Listen succeeded
//	M <name> <n>              with -record, for every seq message, in arrival order
//	E <error>                 for every "error" event
//	SUMMARY <json>            after SIGTERM, once Close has returned (see Summary)
//	STATS <json>              after each SIGUSR1: memory now (see Stats)
//
// On SIGTERM it closes the server gracefully, writes the summary and exits 0.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/socketipc/socketipc/server"
)

// Summary is the JSON of the SUMMARY line.
type Summary struct {
	Clients     map[string]*ClientStats `json:"clients"`       // by client name
	Messages    int64                   `json:"messages"`      // seq messages received
	Errors      int                     `json:"errors"`        // "error" events
	Connections int                     `json:"connections"`   // connections accepted
	MaxConns    int                     `json:"max_conns"`     // most connections open at once
	CloseErr    string                  `json:"close_err"`     // what Close returned
	HeapPeak    uint64                  `json:"heap_peak"`     // HeapInuse, sampled every 10 ms
	VmHWM       uint64                  `json:"vmhwm"`         // peak resident set, bytes
	FirstToLast float64                 `json:"first_to_last"` // seconds from the first seq message to the last
}

// Stats is the JSON of a STATS line: the server's memory at that moment.
type Stats struct {
	HeapAfterGC uint64 `json:"heap_after_gc"` // HeapAlloc after two collections
	StackInuse  uint64 `json:"stack_inuse"`   // goroutine stacks
	VmRSS       uint64 `json:"vmrss"`         // resident set, bytes
	Goroutines  int    `json:"goroutines"`
	Messages    int64  `json:"messages"` // seq messages received so far
}

// ClientStats is what arrived from one client name.
type ClientStats struct {
	Count      int64 `json:"count"`        // messages, duplicates included
	Distinct   int64 `json:"distinct"`     // distinct sequence numbers
	Duplicates int64 `json:"duplicates"`   // a number seen before
	OutOfOrder int64 `json:"out_of_order"` // a new number lower than the highest so far
	Max        int64 `json:"max"`          // highest number
	seen       []uint64
}

func (c *ClientStats) add(n int64) {
	c.Count++
	if n < 0 {
		c.OutOfOrder++
		return
	}
	word, bit := n/64, uint64(1)<<(n%64)
	for int64(len(c.seen)) <= word {
		c.seen = append(c.seen, 0)
	}
	switch {
	case c.seen[word]&bit != 0:
		c.Duplicates++
		return
	case c.Distinct > 0 && n < c.Max:
		c.OutOfOrder++
	}
	c.seen[word] |= bit
	c.Distinct++
	c.Max = max(c.Max, n)
}

type seqMsg struct {
	C string `json:"c"`
	N int64  `json:"n"`
}

func main() {
	socket := flag.String("socket", "", "socket file")
	record := flag.Bool("record", false, "write an M line for every seq message")
	maxQueue := flag.Int("maxqueue", 0, "server.Options.MaxQueueBytes")
	flag.Parse()

	srv, err := server.New(server.Options{
		SocketFile:    *socket,
		MaxQueueBytes: *maxQueue,
		Logger:        slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "ipcserver:", err)
		os.Exit(2)
	}

	// Everything below runs on the server's event loop, one listener at a time.
	sum := &Summary{Clients: map[string]*ClientStats{}}
	open := 0
	var first, last time.Time
	line := make([]byte, 0, 64)
	srv.On("error", func(err error) {
		sum.Errors++
		writeLine("E " + strings.ReplaceAll(err.Error(), "\n", " "))
	})
	srv.On("connection", func() {
		sum.Connections++
		open++
		sum.MaxConns = max(sum.MaxConns, open)
	})
	srv.On("connectionClose", func() { open-- })
	var received atomic.Int64
	srv.On("message.seq", func(m seqMsg) {
		received.Add(1)
		now := time.Now()
		if first.IsZero() {
			first = now
		}
		last = now
		sum.Messages++
		cs := sum.Clients[m.C]
		if cs == nil {
			cs = &ClientStats{}
			sum.Clients[m.C] = cs
		}
		cs.add(m.N)
		if *record {
			line = append(line[:0], "M "...)
			line = append(line, m.C...)
			line = append(line, ' ')
			line = strconv.AppendInt(line, m.N, 10)
			line = append(line, '\n')
			mustWrite(line)
		}
	})

	var heapPeak atomic.Uint64
	stopSampling := make(chan struct{})
	go sampleHeap(&heapPeak, stopSampling)

	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		for range usr1 {
			writeStats(received.Load())
		}
	}()

	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	if err := srv.Listen(); err != nil {
		fmt.Fprintln(os.Stderr, "ipcserver:", err)
		os.Exit(2)
	}
	writeLine("LISTENING")
	<-term
	if err := srv.Close(); err != nil {
		sum.CloseErr = err.Error()
	}
	close(stopSampling)
	// Close has returned: the loop is done, so sum is ours to read.
	sum.HeapPeak = heapPeak.Load()
	sum.VmHWM = vmHWM()
	if !first.IsZero() {
		sum.FirstToLast = last.Sub(first).Seconds()
	}
	js, err := json.Marshal(sum)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ipcserver:", err)
		os.Exit(2)
	}
	writeLine("SUMMARY " + string(js))
}

func writeStats(messages int64) {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	js, _ := json.Marshal(Stats{
		HeapAfterGC: ms.HeapAlloc, StackInuse: ms.StackInuse, VmRSS: procStatus("VmRSS:"),
		Goroutines: runtime.NumGoroutine(), Messages: messages,
	})
	writeLine("STATS " + string(js))
}

func writeLine(s string) { mustWrite([]byte(s + "\n")) }

// mustWrite writes b to stdout in one call; the test reading it is gone if it fails.
func mustWrite(b []byte) {
	if _, err := os.Stdout.Write(b); err != nil {
		os.Exit(3)
	}
}

func sampleHeap(peak *atomic.Uint64, stop <-chan struct{}) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	var ms runtime.MemStats
	for {
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse > peak.Load() {
			peak.Store(ms.HeapInuse)
		}
		select {
		case <-t.C:
		case <-stop:
			return
		}
	}
}

// vmHWM is the process's peak resident set size in bytes, or 0.
func vmHWM() uint64 { return procStatus("VmHWM:") }

// procStatus reads a size field of /proc/self/status, in bytes, or 0.
func procStatus(field string) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, field); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
