//go:build linux

package reliability_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var longFlag = flag.Bool("long", false, "run the long (soak) forms of the scenarios; also SOCKETIPC_SOAK=1")

// long reports whether the long forms were asked for.
func long() bool { return *longFlag || os.Getenv("SOCKETIPC_SOAK") == "1" }

// form names the form being run, for the result lines.
func form() string {
	if long() {
		return "long"
	}
	return "short"
}

// pick returns the short or the long value.
func pick[T any](short, long_ T) T {
	if long() {
		return long_
	}
	return short
}

var binDir string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "sipc-rel-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// ---- results ----

// result is one scenario's figures, logged as "SOAK {json}" and appended to
// $SOCKETIPC_SOAK_RESULTS for scripts/soak.
type result struct {
	Scenario   string  `json:"scenario"`
	Form       string  `json:"form"`
	Race       bool    `json:"race"`
	Sent       int64   `json:"sent"`       // messages accepted by Send/Broadcast
	Received   int64   `json:"received"`   // messages that arrived
	Lost       int64   `json:"lost"`       // accepted, never arrived
	Duplicated int64   `json:"duplicated"` // arrived twice or out of order
	PeakMem    uint64  `json:"peak_mem"`   // bytes
	MemKind    string  `json:"mem_kind"`   // what PeakMem measures
	Seconds    float64 `json:"seconds"`
	Notes      string  `json:"notes"`
}

var resultsMu sync.Mutex

func report(t *testing.T, r result) {
	t.Helper()
	r.Form, r.Race = form(), raceEnabled
	js, err := json.Marshal(r)
	require.NoError(t, err)
	t.Logf("SOAK %s", js)
	path := os.Getenv("SOCKETIPC_SOAK_RESULTS")
	if path == "" {
		return
	}
	resultsMu.Lock()
	defer resultsMu.Unlock()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	_, err = f.Write(append(js, '\n'))
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// ---- memory ----

// heapInuse is the Go heap's in-use spans (runtime.MemStats.HeapInuse),
// read without stopping the world.
func heapInuse() uint64 {
	s := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
	}
	metrics.Read(s)
	return s[0].Value.Uint64() + s[1].Value.Uint64()
}

// heapSampler records the peak of heapInuse every few milliseconds.
type heapSampler struct {
	peak atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

func sampleHeap() *heapSampler {
	h := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	h.peak.Store(heapInuse())
	go func() {
		defer close(h.done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				if v := heapInuse(); v > h.peak.Load() {
					h.peak.Store(v)
				}
			case <-h.stop:
				return
			}
		}
	}()
	return h
}

// Stop ends sampling and returns the peak.
func (h *heapSampler) Stop() uint64 {
	select {
	case <-h.stop:
	default:
		close(h.stop)
	}
	<-h.done
	return h.peak.Load()
}

// settledHeap collects garbage and returns the heap in use: a baseline.
func settledHeap() uint64 {
	runtime.GC()
	runtime.GC()
	return heapInuse()
}

// ---- the server helper process ----

var (
	helperOnce sync.Once
	helperPath string
	helperErr  error
)

// helperBinary builds internal/ipcserver once per test binary. It is built
// without the race detector, which slows it about tenfold (the server's code
// is race-checked in-process by the other tests); SOCKETIPC_HELPER_RACE=1
// builds it with -race when the tests have it.
func helperBinary(t *testing.T) string {
	t.Helper()
	helperOnce.Do(func() {
		// go test puts its own GOROOT/bin first on the PATH of the tests.
		gotool, err := exec.LookPath("go")
		if err != nil {
			helperErr = fmt.Errorf("finding the go command to build the helper: %w", err)
			return
		}
		out := filepath.Join(binDir, "ipcserver")
		args := []string{"build", "-o", out}
		if raceEnabled && os.Getenv("SOCKETIPC_HELPER_RACE") == "1" {
			args = append(args, "-race")
		}
		args = append(args, "github.com/socketipc/socketipc/test/reliability/internal/ipcserver")
		cmd := exec.Command(gotool, args...)
		if b, err := cmd.CombinedOutput(); err != nil {
			helperErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, b)
			return
		}
		helperPath = out
	})
	require.NoError(t, helperErr)
	return helperPath
}

// serverProc is one run of the ipcserver helper.
type serverProc struct {
	cmd       *exec.Cmd
	stderr    *bytes.Buffer
	listening chan struct{}
	eof       chan struct{}
	stats     chan string // STATS lines, as asked by statsNow

	mu      sync.Mutex
	errs    []string // E lines
	summary string   // the SUMMARY JSON
	other   []string // unexpected lines
}

// startServer starts the helper on sock and waits until it listens. Each M
// line (name, seq) goes to onRecord, on the goroutine reading stdout.
func startServer(t *testing.T, sock string, onRecord func(name string, seq int64), extra ...string) *serverProc {
	t.Helper()
	args := append([]string{"-socket", sock}, extra...)
	if onRecord != nil {
		args = append(args, "-record")
	}
	cmd := exec.Command(helperBinary(t), args...)
	p := &serverProc{cmd: cmd, stderr: &bytes.Buffer{}, listening: make(chan struct{}), eof: make(chan struct{}), stats: make(chan string, 1)}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	go p.read(stdout, onRecord)
	t.Cleanup(p.ensureDead)
	select {
	case <-p.listening:
	case <-p.eof:
		_ = cmd.Wait()
		t.Fatalf("ipcserver ended before listening: %s", p.stderr)
	case <-time.After(10 * time.Second):
		p.kill(t)
		t.Fatalf("ipcserver did not listen within 10s: %s", p.stderr)
	}
	return p
}

func (p *serverProc) read(r io.Reader, onRecord func(string, int64)) {
	defer close(p.eof)
	br := bufio.NewReaderSize(r, 4<<20) // a SUMMARY line names every client
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if len(line) > 0 {
				p.mu.Lock()
				p.other = append(p.other, "partial line: "+string(line))
				p.mu.Unlock()
			}
			return
		}
		line = line[:len(line)-1]
		switch {
		case len(line) > 2 && line[0] == 'M' && line[1] == ' ':
			rest := line[2:]
			sp := bytes.IndexByte(rest, ' ')
			n, perr := strconv.ParseInt(string(rest[sp+1:]), 10, 64)
			if sp < 0 || perr != nil || onRecord == nil {
				p.mu.Lock()
				p.other = append(p.other, string(line))
				p.mu.Unlock()
				continue
			}
			onRecord(string(rest[:sp]), n)
		case string(line) == "LISTENING":
			close(p.listening)
		default:
			s := string(line)
			p.mu.Lock()
			switch {
			case strings.HasPrefix(s, "E "):
				p.errs = append(p.errs, s[2:])
			case strings.HasPrefix(s, "SUMMARY "):
				p.summary = s[len("SUMMARY "):]
			case strings.HasPrefix(s, "STATS "):
				select {
				case p.stats <- s[len("STATS "):]:
				default:
					p.other = append(p.other, "unasked: "+s)
				}
			default:
				p.other = append(p.other, s)
			}
			p.mu.Unlock()
		}
	}
}

// ensureDead kills the helper if the test ended (failed) while it ran.
func (p *serverProc) ensureDead() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.eof
	_ = p.cmd.Wait()
}

// vmHWM reads the helper's peak resident set size (bytes) while it runs.
func (p *serverProc) vmHWM() uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// procStats mirrors ipcserver's Stats.
type procStats struct {
	HeapAfterGC uint64 `json:"heap_after_gc"`
	StackInuse  uint64 `json:"stack_inuse"`
	VmRSS       uint64 `json:"vmrss"`
	Goroutines  int    `json:"goroutines"`
	Messages    int64  `json:"messages"`
}

// statsNow asks the helper for its memory now (SIGUSR1) and returns it.
func (p *serverProc) statsNow(t *testing.T) procStats {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGUSR1))
	select {
	case line := <-p.stats:
		var s procStats
		require.NoError(t, json.Unmarshal([]byte(line), &s))
		return s
	case <-time.After(30 * time.Second):
		t.Fatalf("ipcserver wrote no STATS line within 30s")
		return procStats{}
	}
}

// kill ends the helper with SIGKILL and waits until everything it wrote was read.
func (p *serverProc) kill(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(t, false)
}

// stop ends the helper with SIGTERM (a graceful Close) and returns its summary.
func (p *serverProc) stop(t *testing.T) summary {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	p.wait(t, true)
	p.mu.Lock()
	defer p.mu.Unlock()
	require.NotEmpty(t, p.summary, "ipcserver wrote no summary; stderr: %s", p.stderr)
	var s summary
	require.NoError(t, json.Unmarshal([]byte(p.summary), &s))
	return s
}

func (p *serverProc) wait(t *testing.T, wantExit0 bool) {
	t.Helper()
	select {
	case <-p.eof:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.eof
		t.Errorf("ipcserver did not end within 30s")
	}
	err := p.cmd.Wait()
	if wantExit0 {
		require.NoError(t, err, "ipcserver: %s", p.stderr)
	}
	p.checkStderr(t)
	p.mu.Lock()
	defer p.mu.Unlock()
	require.Empty(t, p.other, "unexpected output from ipcserver")
}

// checkStderr fails the test on a data race or panic reported by the helper.
func (p *serverProc) checkStderr(t *testing.T) {
	t.Helper()
	s := p.stderr.String()
	for _, bad := range []string{"DATA RACE", "panic:", "fatal error:"} {
		if strings.Contains(s, bad) {
			t.Errorf("ipcserver stderr has %q:\n%s", bad, s)
			return
		}
	}
}

func (p *serverProc) errors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errs...)
}

// summary mirrors ipcserver's Summary.
type summary struct {
	Clients map[string]struct {
		Count      int64 `json:"count"`
		Distinct   int64 `json:"distinct"`
		Duplicates int64 `json:"duplicates"`
		OutOfOrder int64 `json:"out_of_order"`
		Max        int64 `json:"max"`
	} `json:"clients"`
	Messages    int64   `json:"messages"`
	Errors      int     `json:"errors"`
	Connections int     `json:"connections"`
	MaxConns    int     `json:"max_conns"`
	CloseErr    string  `json:"close_err"`
	HeapPeak    uint64  `json:"heap_peak"`
	VmHWM       uint64  `json:"vmhwm"`
	FirstToLast float64 `json:"first_to_last"`
}

// seqMsg is the payload of the "seq" messages that ipcserver counts.
type seqMsg struct {
	C string `json:"c"`           // the client's stable name
	N int64  `json:"n"`           // its sequence number, from 0, one per accepted Send
	P string `json:"p,omitempty"` // padding
}
