// Command driver runs the socketipc performance scenarios for scripts/bench.
//
// Each scenario runs in three implementations: (a) the library, Go server
// and Go client(s) in two processes (libpeer); (b) the Node package
// @crussell52/socket-ipc 0.4.0 in two node processes (node/peer.js); (c) a
// raw Go baseline on plain unix sockets with the same framing (rawpeer).
// Runs are interleaved (a b c a b c ...), every run checks that nothing was
// lost, duplicated or reordered (a failed check fails the whole benchmark),
// and the peak RSS and CPU time of each server process come from
// getrusage of the child.
//
// The driver prints a table of medians, ranges and ratios with the targets
// of docs/PERFORMANCE.md, and writes the same between its markers, with S7's plot beside it (s7.svg).
// With -profile it instead runs the library in each scenario with CPU and
// allocation profiles of both processes and prints `go tool pprof -top` of
// each (allocations: by bytes allocated).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/socketipc/socketipc/internal/benchmark/bench"
)

type config struct {
	bin          string // folder with libpeer and rawpeer
	node         string
	nodePeer     string
	root         string // repository root
	out          string // bench-results
	docs         string
	writeDocs    bool
	command      string
	reps         int
	quick        bool
	profile      bool
	timeout      time.Duration
	impls        []string
	scenarios    []string
	n1, n2       int
	n3, warm     int
	n4           int
	clients      int
	n5, clients5 int   // S5: messages per client, clients
	n6, size6    int   // S6: messages, payload bytes
	inFlight     int   // S6
	reps6        int   // S6 runs in the first reps6 repetitions only (each of its Node runs takes over half a minute)
	clients7     []int // S7: connected clients (one sends), at sizes7[0]
	sizes7       []int // S7: payload bytes, with one client
	n7, bytes7   int   // S7: messages per point, at most bytes7 of payload
	impls7       []string
	listener     string
	benchN       int
	profileRuns  int
}

// Implementations, in the order they run and are shown.
var implNames = map[string]string{
	"lib":  "(a) socketipc",
	"node": "(b) Node socket-ipc 0.4.0",
	"raw":  "(c) raw Go baseline",
}

func main() {
	var cfg config
	var impls, scenarios, clients7, sizes7, impls7 string
	flag.StringVar(&cfg.bin, "bin", "bench-results/bin", "folder holding the built libpeer and rawpeer")
	flag.StringVar(&cfg.node, "node", "node", "node binary")
	flag.StringVar(&cfg.nodePeer, "node-peer", "internal/benchmark/node/peer.js", "the Node peer script")
	flag.StringVar(&cfg.root, "root", ".", "repository root (go test runs there)")
	flag.StringVar(&cfg.out, "out", "bench-results", "folder for results and profiles")
	flag.StringVar(&cfg.docs, "docs", "docs/PERFORMANCE.md", "the document whose bench section is rewritten")
	flag.BoolVar(&cfg.writeDocs, "write-docs", true, "rewrite the bench section of -docs")
	flag.StringVar(&cfg.command, "command", "", "the command line to record in the document")
	flag.IntVar(&cfg.reps, "reps", 5, "repetitions of every scenario and implementation")
	flag.BoolVar(&cfg.quick, "quick", false, "a smoke run: 1 repetition, small N")
	flag.BoolVar(&cfg.profile, "profile", false, "profile the library in each scenario (-scenarios) instead of benchmarking")
	flag.DurationVar(&cfg.timeout, "timeout", 3*time.Minute, "limit for one run (server and client)")
	flag.StringVar(&impls, "impls", "lib,node,raw", "implementations to run")
	flag.StringVar(&scenarios, "scenarios", "s1,s2,s3,s3r,s4,s4b,s4c,s5,s6,s7", "scenarios to run")
	flag.IntVar(&cfg.n1, "n1", 200_000, "S1 messages")
	flag.IntVar(&cfg.n2, "n2", 50_000, "S2 messages broadcast")
	flag.IntVar(&cfg.n3, "n3", 20_000, "S3 measured round trips")
	flag.IntVar(&cfg.warm, "warmup", 1_000, "S3 warm-up round trips")
	flag.IntVar(&cfg.n4, "n4", 200_000, "S4, S4b, S4c orders")
	flag.IntVar(&cfg.clients, "clients", 8, "S2 clients")
	flag.IntVar(&cfg.n5, "n5", 20_000, "S5 messages per client")
	flag.IntVar(&cfg.clients5, "clients5", 64, "S5 clients, all sending at once")
	flag.IntVar(&cfg.n6, "n6", 1_000, "S6 messages echoed")
	flag.IntVar(&cfg.size6, "size6", 1<<20, "S6 payload bytes")
	flag.IntVar(&cfg.inFlight, "inflight", 8, "S6 messages in flight, at most")
	flag.IntVar(&cfg.reps6, "reps6", 3, "repetitions of S6, at most (each of its Node runs takes over half a minute)")
	flag.StringVar(&clients7, "clients7", "1,8,64,512", "S7 connected clients (one of them sends), at the first of -sizes7")
	flag.StringVar(&sizes7, "sizes7", "16,1024,65536", "S7 payload bytes (with one client)")
	flag.IntVar(&cfg.n7, "n7", 500_000, "S7 messages per point")
	flag.IntVar(&cfg.bytes7, "bytes7", 128<<20, "S7 payload bytes per point, at most (fewer messages for large payloads)")
	flag.StringVar(&impls7, "impls7", "lib,node,raw", "implementations S7 runs (of -impls); its target is about the library")
	flag.StringVar(&cfg.listener, "listener", "raw", "the library's listener parameter type: raw (json.RawMessage), string, any")
	flag.IntVar(&cfg.benchN, "bench-n", 200_000, "messages per BenchmarkServerDispatch shape (-benchtime=Nx); 0 skips it")
	flag.IntVar(&cfg.profileRuns, "profile-runs", 5, "with -profile: runs of each scenario, merged into one profile")
	flag.Parse()
	if cfg.quick {
		if !flagSet("reps") {
			cfg.reps = 1
		}
		for name, p := range map[string]*int{"n1": &cfg.n1, "n2": &cfg.n2, "n3": &cfg.n3, "warmup": &cfg.warm, "n4": &cfg.n4, "bench-n": &cfg.benchN,
			"n5": &cfg.n5, "n6": &cfg.n6, "n7": &cfg.n7, "bytes7": &cfg.bytes7} {
			if !flagSet(name) {
				*p /= 10
			}
		}
	}
	cfg.impls = strings.Split(impls, ",")
	cfg.scenarios = strings.Split(scenarios, ",")
	for _, i := range strings.Split(impls7, ",") {
		if slices.Contains(cfg.impls, i) {
			cfg.impls7 = append(cfg.impls7, i)
		}
	}
	cfg.clients7, cfg.sizes7 = intList("clients7", clients7), intList("sizes7", sizes7)
	for _, sc := range cfg.scenarios {
		if !slices.Contains([]string{"s1", "s2", "s3", "s3r", "s4", "s4b", "s4c", "s5", "s6", "s7"}, sc) {
			fatalf("unknown scenario %q", sc)
		}
	}
	if cfg.reps < 1 || cfg.reps6 < 1 {
		fatalf("-reps and -reps6 must be at least 1")
	}
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		fatalf("%v", err)
	}
	if cfg.profile {
		runProfiles(&cfg)
		return
	}
	runBenchmarks(&cfg)
}

func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: FAIL: "+format+"\n", args...)
	os.Exit(1)
}

// ---- one run ---------------------------------------------------------------

type peerResult struct {
	Event     string          `json:"event"`
	Role      string          `json:"role"`
	Impl      string          `json:"impl"`
	Received  json.RawMessage `json:"received"`
	Sent      int             `json:"sent"`
	Acks      int             `json:"acks"`
	Echoed    int             `json:"echoed"`
	ElapsedNS int64           `json:"elapsed_ns"`
	CPUNS     int64           `json:"cpu_ns"` // S7: the server's CPU from its first receipt to its last
	Latencies []int64         `json:"latencies_ns"`
}

// run is the outcome of one scenario run of one implementation.
type run struct {
	Impl, Scenario string // Scenario: a case key (runCase), e.g. "s1", "s7-c512"
	Rep            int
	Throughput     float64 // messages per second (per client in S2, all clients in S5); S6: MB/s each way
	P50, P99       float64 // S3: microseconds
	ServerRSS      int64   // bytes, peak
	ClientRSS      int64
	ServerCPU      time.Duration // user + system
	ClientCPU      time.Duration
	WindowCPU      time.Duration // S7: the server's CPU from its first receipt to its last
	Wall           time.Duration
}

type proc struct {
	name   string
	cmd    *exec.Cmd
	stdout *bytes.Buffer
	stderr *bytes.Buffer
	lines  chan string // server only: stdout lines as they come
	done   chan error
}

// peerCommand is a peer's command line; with profile (FILE.prof) it also
// writes its allocations to FILE.allocs.prof.
func (cfg *config) peerCommand(impl, role string, c runCase, socket, profile string) *exec.Cmd {
	args := []string{role, "-scenario", c.scenario, "-socket", socket, "-n", strconv.Itoa(c.n), "-clients", strconv.Itoa(c.clients)}
	switch c.scenario {
	case "s3", "s3r":
		args = append(args, "-warmup", strconv.Itoa(cfg.warm))
	case "s6":
		args = append(args, "-size", strconv.Itoa(c.size), "-inflight", strconv.Itoa(cfg.inFlight))
	case "s7":
		args = append(args, "-size", strconv.Itoa(c.size))
	}
	if profile != "" {
		args = append(args, "-cpuprofile", profile, "-memprofile", strings.TrimSuffix(profile, ".prof")+".allocs.prof")
	}
	switch impl {
	case "lib":
		return exec.Command(filepath.Join(cfg.bin, "libpeer"), append(args, "-listener", cfg.listener)...)
	case "raw":
		return exec.Command(filepath.Join(cfg.bin, "rawpeer"), args...)
	case "node":
		return exec.Command(cfg.node, append([]string{cfg.nodePeer}, args...)...)
	}
	fatalf("unknown implementation %q", impl)
	return nil
}

func start(name string, cmd *exec.Cmd, streamLines bool) *proc {
	p := &proc{name: name, cmd: cmd, stdout: new(bytes.Buffer), stderr: new(bytes.Buffer), done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	var pipe io.ReadCloser
	if streamLines {
		var err error
		if pipe, err = cmd.StdoutPipe(); err != nil {
			fatalf("%v", err)
		}
		p.lines = make(chan string, 16)
	} else {
		cmd.Stdout = p.stdout
	}
	if err := cmd.Start(); err != nil {
		fatalf("start %s: %v", name, err)
	}
	if streamLines {
		go func() {
			sc := bufio.NewScanner(pipe)
			sc.Buffer(nil, 64<<20)
			for sc.Scan() {
				p.stdout.Write(sc.Bytes())
				p.stdout.WriteByte('\n')
				select {
				case p.lines <- sc.Text():
				default:
				}
			}
			close(p.lines)
			p.done <- cmd.Wait()
		}()
	} else {
		go func() { p.done <- cmd.Wait() }()
	}
	return p
}

func (p *proc) kill() {
	if p != nil && p.cmd.Process != nil && p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
	}
}

// describe is what a failed run shows of a process.
func (p *proc) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "  %s: %s\n", p.name, strings.Join(p.cmd.Args, " "))
	if p.cmd.ProcessState != nil {
		fmt.Fprintf(&b, "    exit: %v\n", p.cmd.ProcessState)
	}
	out := p.stdout.String()
	if len(out) > 2000 {
		out = out[:2000] + "..."
	}
	if out != "" {
		fmt.Fprintf(&b, "    stdout: %s\n", strings.TrimSpace(out))
	}
	if s := strings.TrimSpace(p.stderr.String()); s != "" {
		fmt.Fprintf(&b, "    stderr: %s\n", s)
	}
	return b.String()
}

func result(p *proc) (peerResult, error) {
	var r peerResult
	for line := range strings.Lines(p.stdout.String()) {
		var ev peerResult
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			return r, fmt.Errorf("%s printed a line that is not JSON: %.200q", p.name, line)
		}
		if ev.Event == "result" {
			return ev, nil
		}
	}
	return r, fmt.Errorf("%s printed no result", p.name)
}

// runOnce runs one scenario of one implementation and checks it. Any
// failure ends the whole benchmark: a number from a broken run means nothing.
func (cfg *config) runOnce(impl, key string, rep int, profDir string) run {
	c := cfg.caseOf(key)
	dir, err := os.MkdirTemp("", "sipcb")
	if err != nil {
		fatalf("%v", err)
	}
	defer os.RemoveAll(dir)
	socket := filepath.Join(dir, "s.sock")
	var srvProf, cliProf string
	if profDir != "" {
		srvProf = filepath.Join(profDir, key+"-server.prof")
		cliProf = filepath.Join(profDir, key+"-client.prof")
	}
	label := fmt.Sprintf("%s %s rep %d", key, impl, rep)
	began := time.Now()
	deadline := time.NewTimer(cfg.timeout)
	defer deadline.Stop()

	srv := start("server", cfg.peerCommand(impl, "server", c, socket, srvProf), true)
	var cli *proc
	failRun := func(format string, args ...any) {
		srv.kill()
		cli.kill()
		msg := fmt.Sprintf(format, args...)
		details := srv.describe()
		if cli != nil {
			// Give the killed processes a moment to be reaped for their exit status.
			select {
			case <-cli.done:
			case <-time.After(time.Second):
			}
			details += cli.describe()
		}
		os.RemoveAll(dir) // fatalf exits: the deferred RemoveAll would not run
		fatalf("%s: %s\n%s", label, msg, details)
	}
	// Wait for the server to listen.
	ready := false
	for !ready {
		select {
		case line, ok := <-srv.lines:
			if !ok {
				<-srv.done
				failRun("the server exited before it was ready")
			}
			ready = strings.Contains(line, `"ready"`)
		case <-deadline.C:
			failRun("the server was not ready within %v", cfg.timeout)
		}
	}
	cli = start("client", cfg.peerCommand(impl, "client", c, socket, cliProf), false)
	for srv.done != nil || cli.done != nil {
		select {
		case err := <-srv.done:
			srv.done = nil
			if err != nil {
				failRun("server: %v", err)
			}
		case err := <-cli.done:
			cli.done = nil
			if err != nil {
				failRun("client: %v", err)
			}
		case <-deadline.C:
			failRun("not finished within %v", cfg.timeout)
		}
	}
	wall := time.Since(began)
	sr, err := result(srv)
	if err != nil {
		failRun("%v", err)
	}
	cr, err := result(cli)
	if err != nil {
		failRun("%v", err)
	}
	r := run{Impl: impl, Scenario: key, Rep: rep, Wall: wall}
	r.ServerRSS, r.ServerCPU = usage(srv)
	r.ClientRSS, r.ClientCPU = usage(cli)

	// Check the counts each side reported (each side already checked order).
	switch c.scenario {
	case "s1":
		var got int
		_ = json.Unmarshal(sr.Received, &got)
		if got != cfg.n1 || cr.Sent != cfg.n1 {
			failRun("client sent %d, server received %d, want %d", cr.Sent, got, cfg.n1)
		}
		if sr.ElapsedNS <= 0 {
			failRun("no elapsed time")
		}
		r.Throughput = float64(cfg.n1) / (float64(sr.ElapsedNS) / 1e9)
	case "s4", "s4b", "s4c":
		var got int
		_ = json.Unmarshal(sr.Received, &got)
		if got != cfg.n4 || cr.Sent != cfg.n4 {
			failRun("client sent %d, server received %d, want %d", cr.Sent, got, cfg.n4)
		}
		if sr.ElapsedNS <= 0 {
			failRun("no elapsed time")
		}
		r.Throughput = float64(cfg.n4) / (float64(sr.ElapsedNS) / 1e9)
	case "s5", "s7":
		want := c.n
		if c.scenario == "s5" {
			want = c.n * c.clients
		}
		var got int
		_ = json.Unmarshal(sr.Received, &got)
		if got != want || cr.Sent != want {
			failRun("client(s) sent %d, server received %d, want %d", cr.Sent, got, want)
		}
		if sr.ElapsedNS <= 0 {
			failRun("no elapsed time")
		}
		r.Throughput = float64(want) / (float64(sr.ElapsedNS) / 1e9)
		r.WindowCPU = time.Duration(sr.CPUNS)
	case "s6":
		var got int
		_ = json.Unmarshal(cr.Received, &got)
		if sr.Echoed != c.n || got != c.n {
			failRun("server echoed %d, client received %d, want %d", sr.Echoed, got, c.n)
		}
		if cr.ElapsedNS <= 0 {
			failRun("no elapsed time")
		}
		r.Throughput = float64(c.n) * float64(c.size) / 1e6 / (float64(cr.ElapsedNS) / 1e9)
	case "s2":
		var got []int
		_ = json.Unmarshal(cr.Received, &got)
		if len(got) != cfg.clients || sr.Acks != cfg.clients || sr.Sent != cfg.n2 {
			failRun("server sent %d with %d acks, clients received %v", sr.Sent, sr.Acks, got)
		}
		for k, n := range got {
			if n != cfg.n2 {
				failRun("client %d received %d of %d", k, n, cfg.n2)
			}
		}
		if sr.ElapsedNS <= 0 {
			failRun("no elapsed time")
		}
		r.Throughput = float64(cfg.n2) / (float64(sr.ElapsedNS) / 1e9)
	case "s3", "s3r":
		if sr.Echoed != cfg.n3+cfg.warm || len(cr.Latencies) != cfg.n3 {
			failRun("server echoed %d, client measured %d round trips, want %d + %d warm-up", sr.Echoed, len(cr.Latencies), cfg.n3, cfg.warm)
		}
		lat := slices.Clone(cr.Latencies)
		slices.Sort(lat)
		r.P50 = float64(percentile(lat, 50)) / 1e3
		r.P99 = float64(percentile(lat, 99)) / 1e3
	}
	return r
}

// latencyScenario: a scenario measured by round-trip latency, not throughput.
func latencyScenario(sc string) bool { return sc == "s3" || sc == "s3r" }

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []int64, p float64) int64 {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[max(rank-1, 0)]
}

// ---- benchmark mode --------------------------------------------------------

func runBenchmarks(cfg *config) {
	info := machineInfo(cfg)
	fmt.Printf("socketipc benchmark: %d rep(s), scenarios %s, implementations %s, interleaved\n",
		cfg.reps, strings.Join(cfg.scenarios, ","), strings.Join(cfg.impls, ","))
	fmt.Printf("load before: %s\n", loadNow())
	if busy := cpuPressure(); busy > 20 {
		fmt.Printf("WARNING: the CPU is busy (%.0f%% of the last 10 s some task waited for a CPU): other work on this machine will slow these numbers down\n", busy)
	}
	var runs []run
	began := time.Now()
	for rep := 1; rep <= cfg.reps; rep++ {
		for _, c := range cfg.cases() {
			if c.scenario == "s6" && rep > cfg.reps6 {
				continue
			}
			for _, impl := range cfg.implsOf(c) {
				r := cfg.runOnce(impl, c.key, rep, "")
				runs = append(runs, r)
				fmt.Printf("  rep %d %s %-5s %s  server RSS %s, CPU server %v client %v, wall %v\n",
					rep, strings.ToUpper(c.key), impl, r.short(), mb(r.ServerRSS),
					r.ServerCPU.Round(time.Millisecond), r.ClientCPU.Round(time.Millisecond), r.Wall.Round(time.Millisecond))
			}
		}
	}
	info.after = loadNow()
	info.duration = time.Since(began)

	var dispatch []benchLine
	if cfg.benchN > 0 {
		fmt.Printf("  go test -bench BenchmarkServerDispatch -benchtime=%dx ./server\n", cfg.benchN)
		dispatch = runDispatchBench(cfg)
	}
	report := renderReport(cfg, info, runs, dispatch)
	fmt.Println()
	fmt.Print(report)
	if slices.Contains(cfg.scenarios, "s7") {
		svg := plotS7(cfg, runs)
		plots := []string{filepath.Join(cfg.out, plotFile)}
		if cfg.writeDocs {
			plots = append(plots, filepath.Join(filepath.Dir(cfg.docs), plotFile))
		}
		for _, f := range plots {
			if err := os.WriteFile(f, svg, 0o644); err != nil {
				fatalf("%v", err)
			}
			fmt.Printf("\nwrote S7's plot: %s\n", f)
		}
	}

	raw, _ := json.MarshalIndent(struct {
		Command string
		Runs    []run
	}{cfg.command, runs}, "", "  ")
	resultsFile := filepath.Join(cfg.out, "results.json")
	if err := os.WriteFile(resultsFile, raw, 0o644); err != nil {
		fatalf("%v", err)
	}
	fmt.Printf("\nper-run results: %s\n", resultsFile)
	if cfg.writeDocs {
		if err := writeDocs(cfg.docs, report); err != nil {
			fatalf("write %s: %v", cfg.docs, err)
		}
		fmt.Printf("wrote the bench section of %s\n", cfg.docs)
	}
}

func (r run) short() string {
	switch {
	case latencyScenario(r.Scenario):
		return fmt.Sprintf("p50 %7.1f µs  p99 %7.1f µs", r.P50, r.P99)
	case r.Scenario == "s6":
		return fmt.Sprintf("%8.1f MB/s each way, client RSS %s", r.Throughput, mb(r.ClientRSS))
	case strings.HasPrefix(r.Scenario, "s7"):
		return fmt.Sprintf("%12s msgs/s, server CPU in window %v", thousands(r.Throughput), r.WindowCPU.Round(time.Microsecond))
	}
	return fmt.Sprintf("%12s msgs/s", thousands(r.Throughput))
}

type machine struct {
	nproc                       int
	cpu, kernel, goVer, nodeVer string
	date                        time.Time
	before, after               string
	duration                    time.Duration
}

func machineInfo(cfg *config) *machine {
	m := &machine{nproc: runtime.NumCPU(), date: time.Now().UTC(), before: loadNow()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if mm := regexp.MustCompile(`(?m)^model name\s*:\s*(.*)$`).FindSubmatch(b); mm != nil {
			m.cpu = string(mm[1])
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("go", "version").Output(); err == nil {
		m.goVer = strings.TrimPrefix(strings.TrimSpace(string(out)), "go version ")
	} else {
		m.goVer = runtime.Version()
	}
	if out, err := exec.Command(cfg.node, "--version").Output(); err == nil {
		m.nodeVer = strings.TrimSpace(string(out))
	}
	return m
}

// loadNow describes how busy the machine is: the load averages and, where
// the kernel has it, the share of time some task waited for a CPU.
func loadNow() string {
	s := "load average ?"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			s = "load average " + strings.Join(f[:3], " ")
		}
	}
	if p := cpuPressure(); p >= 0 {
		s += fmt.Sprintf(", CPU pressure %.0f%% (avg10)", p)
	}
	return s
}

func cpuPressure() float64 {
	b, err := os.ReadFile("/proc/pressure/cpu")
	if err != nil {
		return -1
	}
	m := regexp.MustCompile(`some avg10=([0-9.]+)`).FindSubmatch(b)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// ---- BenchmarkServerDispatch (allocation targets) --------------------------

type benchLine struct {
	name                  string
	nsPerOp, bytes, alloc float64
}

func runDispatchBench(cfg *config) []benchLine {
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", "^BenchmarkServerDispatch$",
		"-benchtime", fmt.Sprintf("%dx", cfg.benchN), "-benchmem", "-count", "1", "./server")
	cmd.Dir = cfg.root
	out, err := cmd.CombinedOutput()
	if err != nil {
		fatalf("go test -bench BenchmarkServerDispatch: %v\n%s", err, out)
	}
	var lines []benchLine
	re := regexp.MustCompile(`(?m)^BenchmarkServerDispatch/(\S+?)(?:-\d+)?\s+\d+\s+([0-9.]+) ns/op.*?\s([0-9.]+) B/op\s+([0-9.]+) allocs/op`)
	for _, m := range re.FindAllStringSubmatch(string(out), -1) {
		ns, _ := strconv.ParseFloat(m[2], 64)
		b, _ := strconv.ParseFloat(m[3], 64)
		a, _ := strconv.ParseFloat(m[4], 64)
		lines = append(lines, benchLine{name: m[1], nsPerOp: ns, bytes: b, alloc: a})
	}
	if len(lines) == 0 {
		fatalf("no BenchmarkServerDispatch results in:\n%s", out)
	}
	return lines
}

// ---- the report --------------------------------------------------------------

type stats struct {
	med, lo, hi float64
	n           int
}

func summarize(vals []float64) stats {
	if len(vals) == 0 {
		return stats{med: math.NaN(), lo: math.NaN(), hi: math.NaN()}
	}
	s := slices.Clone(vals)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stats{med: med, lo: s[0], hi: s[len(s)-1], n: len(s)}
}

func collect(runs []run, impl, sc string, f func(run) float64) []float64 {
	var v []float64
	for _, r := range runs {
		if r.Impl == impl && r.Scenario == sc {
			v = append(v, f(r))
		}
	}
	return v
}

func renderReport(cfg *config, m *machine, runs []run, dispatch []benchLine) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	cmdline := cfg.command
	if cmdline == "" {
		cmdline = "scripts/bench"
	}
	reps6 := ""
	if slices.Contains(cfg.scenarios, "s6") && cfg.reps6 < cfg.reps {
		reps6 = fmt.Sprintf(", S6 %d", cfg.reps6)
	}
	p("Command: `%s` (%d repetition(s) per scenario and implementation%s, run interleaved a b c a b c ...; %s)\n\n",
		cmdline, cfg.reps, reps6, m.duration.Round(time.Second))
	p("Machine: %d CPUs, %s; Linux %s; %s; Node %s; %s\n\n", m.nproc, m.cpu, m.kernel, m.goVer, m.nodeVer, m.date.Format("2006-01-02 15:04 MST"))
	p("Machine load: before %s; after %s.\n\n", m.before, m.after)
	p("Scenarios: S1 one client sends %s messages as fast as it can (throughput = N / time from the server's first receipt to its last); "+
		"S2 the server broadcasts %s messages to %d clients (per-client throughput = N / time from the first broadcast to the last client's ack); "+
		"S3 ping-pong, one request in flight, %s round trips measured after %s warm-up ones (round-trip time measured by the client). "+
		"S3r the same round trips as requests from a synchronous caller (the library: one goroutine calling `Client.Request`, the server echoing with `server.Handle`; Node: a callback-based request by the same `$req`/`$res` convention, id and pending table; raw Go: S3's write-then-read on one goroutine, with no id). "+
		"Messages: topic `hello`, payload `\"<i>:\"` + 32 random lower-case letters. The library's listeners take the payload as `%s`. "+
		"S4 one client sends %s orders (a %d-byte object: numbers, strings, a nested object, an array of two objects, tags; `bench.Order` in internal/benchmark/bench/order.go) as encoded JSON, and the server decodes each into that Go struct (the library: a `func(bench.Order)` listener; raw Go: `encoding/json` into an envelope struct holding it; Node: its listener reads the fields of the parsed object); "+
		"S4b the same with the server decoding into `any` (the library: `func(any)`; raw Go: `encoding/json` into `any`); S4c the same as S4 but the client sends the `bench.Order` struct, which the library and raw Go (`encoding/json`) encode (Node sends its object in all three). "+
		"%s"+
		"Every run checked that nothing was lost, duplicated or reordered (per client), and every field of every order. "+
		"RSS is the server process's peak (getrusage of the child); CPU is user + system time per message (per round trip in S3) of the server and of the client process(es).\n\n",
		thousands(float64(cfg.n1)), thousands(float64(cfg.n2)), cfg.clients, thousands(float64(cfg.n3)), thousands(float64(cfg.warm)), listenerType(cfg.listener),
		thousands(float64(cfg.n4)), len(bench.AppendOrderJSON(nil, cfg.n4/2)), cfg.describeScale())

	p("| scenario | implementation | median | min–max | server RSS (median) | CPU/msg server + client | a/b | a/c |\n")
	p("|---|---|---:|---:|---:|---:|---:|---:|\n")
	type ratio struct{ ab, ac float64 }
	ratios := map[string]ratio{}
	rssMax := map[string]float64{}
	scTitle := map[string]string{
		"s1":  "S1 send " + thousands(float64(cfg.n1)),
		"s2":  fmt.Sprintf("S2 broadcast %s to %d", thousands(float64(cfg.n2)), cfg.clients),
		"s3":  "S3 ping-pong " + thousands(float64(cfg.n3)),
		"s3r": "S3r request round trip " + thousands(float64(cfg.n3)),
		"s4":  "S4 " + thousands(float64(cfg.n4)) + " orders into a struct",
		"s4b": "S4b " + thousands(float64(cfg.n4)) + " orders into any",
		"s4c": "S4c " + thousands(float64(cfg.n4)) + " orders sent as structs",
		"s5":  fmt.Sprintf("S5 %d clients × %s at once", cfg.clients5, thousands(float64(cfg.n5))),
		"s6":  fmt.Sprintf("S6 %s × %s echoed, ≤ %d in flight", thousands(float64(cfg.n6)), byteSize(cfg.size6), cfg.inFlight),
	}
	clientCPU := map[string]map[string]float64{} // scenario, implementation: median µs per message
	for _, sc := range cfg.scenarios {
		if sc == "s7" {
			continue // its own table, below
		}
		metric := func(r run) float64 { return r.Throughput }
		if latencyScenario(sc) {
			metric = func(r run) float64 { return r.P50 }
		}
		med := map[string]float64{}
		for _, impl := range cfg.impls {
			med[impl] = summarize(collect(runs, impl, sc, metric)).med
		}
		rt := ratio{ab: med["lib"] / med["node"], ac: med["lib"] / med["raw"]}
		ratios[sc] = rt
		perMsg := float64(cfg.n1)
		switch sc {
		case "s2":
			perMsg = float64(cfg.n2)
		case "s3", "s3r":
			perMsg = float64(cfg.n3 + cfg.warm)
		case "s4", "s4b", "s4c":
			perMsg = float64(cfg.n4)
		case "s5":
			perMsg = float64(cfg.n5 * cfg.clients5)
		case "s6":
			perMsg = float64(cfg.n6)
		}
		clientCPU[sc] = map[string]float64{}
		for i, impl := range cfg.impls {
			title := ""
			if i == 0 {
				title = scTitle[sc]
			}
			st := summarize(collect(runs, impl, sc, metric))
			rss := summarize(collect(runs, impl, sc, func(r run) float64 { return float64(r.ServerRSS) }))
			rssCell := mb(int64(rss.med))
			if impl == "lib" {
				rssMax[sc] = rss.hi
			}
			if sc == "s6" {
				// Either side's peak counts: the client holds as much as the server.
				crss := summarize(collect(runs, impl, sc, func(r run) float64 { return float64(r.ClientRSS) }))
				rssCell += " (client " + mb(int64(crss.med)) + ")"
				if impl == "lib" {
					rssMax[sc] = slices.Max(collect(runs, impl, sc, func(r run) float64 { return float64(max(r.ServerRSS, r.ClientRSS)) }))
				}
			}
			scpu := summarize(collect(runs, impl, sc, func(r run) float64 { return r.ServerCPU.Seconds() * 1e6 / perMsg }))
			ccpu := summarize(collect(runs, impl, sc, func(r run) float64 { return r.ClientCPU.Seconds() * 1e6 / perMsg }))
			clientCPU[sc][impl] = ccpu.med
			var value, rng string
			if latencyScenario(sc) {
				p99 := summarize(collect(runs, impl, sc, func(r run) float64 { return r.P99 }))
				value = fmt.Sprintf("p50 %.1f µs, p99 %.1f µs", st.med, p99.med)
				rng = fmt.Sprintf("p50 %.1f–%.1f, p99 %.1f–%.1f", st.lo, st.hi, p99.lo, p99.hi)
			} else {
				unit := "msgs/s"
				switch sc {
				case "s2":
					unit = "msgs/s per client"
				case "s5":
					unit = "msgs/s, all clients"
				}
				value = thousands(st.med) + " " + unit
				rng = thousands(st.lo) + "–" + thousands(st.hi)
				if sc == "s6" {
					value = fmt.Sprintf("%.1f MB/s each way", st.med)
					rng = fmt.Sprintf("%.1f–%.1f", st.lo, st.hi)
				}
			}
			ab, ac := "", ""
			if impl == "lib" {
				ab, ac = fmtRatio(rt.ab), fmtRatio(rt.ac)
				if latencyScenario(sc) {
					ab, ac = "p50 "+ab, "p50 "+ac
				}
			}
			p("| %s | %s | %s | %s | %s | %.2f + %.2f µs | %s | %s |\n",
				title, implNames[impl], value, rng, rssCell, scpu.med, ccpu.med, ab, ac)
		}
	}
	p("\nRatios: a/b and a/c divide the medians; for S1, S2, S4, S5 and S6 higher is better (throughput), for S3 and S3r lower is better (p50 latency). In S6 the RSS column shows the server's peak and, in brackets, the client's.\n\n")

	var s7 s7Summary
	if slices.Contains(cfg.scenarios, "s7") {
		s7 = renderS7(cfg, runs, p)
	}

	// The speed targets of docs/PERFORMANCE.md.
	p("Targets:\n\n")
	p("| target | measured | verdict |\n|---|---:|---|\n")
	verdict := func(ok bool, have bool) string {
		switch {
		case !have:
			return "not measured"
		case ok:
			return "PASS"
		}
		return "MISS"
	}
	has := func(sc string, impls ...string) bool {
		if !slices.Contains(cfg.scenarios, sc) {
			return false
		}
		for _, i := range impls {
			if !slices.Contains(cfg.impls, i) {
				return false
			}
		}
		return true
	}
	target := func(name string, measured string, ok, have bool) {
		if !have {
			measured = "–"
		}
		p("| %s | %s | %s |\n", name, measured, verdict(ok, have))
	}
	target("S1 throughput ≥ 4x Node", "a/b "+fmtRatio(ratios["s1"].ab), ratios["s1"].ab >= 4, has("s1", "lib", "node"))
	target("S1 throughput ≥ 2.0x raw Go", "a/c "+fmtRatio(ratios["s1"].ac), ratios["s1"].ac >= 2, has("s1", "lib", "raw"))
	target("S2 per-client throughput ≥ 6x Node", "a/b "+fmtRatio(ratios["s2"].ab), ratios["s2"].ab >= 6, has("s2", "lib", "node"))
	target("S2 per-client throughput ≥ 2.0x raw Go", "a/c "+fmtRatio(ratios["s2"].ac), ratios["s2"].ac >= 2, has("s2", "lib", "raw"))
	target("S3 p50 latency ≤ 1.2x raw Go", "a/c "+fmtRatio(ratios["s3"].ac), ratios["s3"].ac <= 1.2, has("s3", "lib", "raw"))
	target("S3r request p50 ≤ 1.3x raw Go", "a/c "+fmtRatio(ratios["s3r"].ac), ratios["s3r"].ac <= 1.3, has("s3r", "lib", "raw"))
	target("S3r request ≥ 4x faster than Node (p50)", "a/b "+fmtRatio(ratios["s3r"].ab), ratios["s3r"].ab <= 0.25, has("s3r", "lib", "node"))
	target("S1 server peak RSS ≤ 25 MB (worst run)", mb(int64(rssMax["s1"])), rssMax["s1"] <= 25e6, has("s1", "lib"))
	target("S2 server peak RSS ≤ 25 MB (worst run)", mb(int64(rssMax["s2"])), rssMax["s2"] <= 25e6, has("s2", "lib"))
	target("S4 orders into a struct: throughput ≥ 3x Node", "a/b "+fmtRatio(ratios["s4"].ab), ratios["s4"].ab >= 3, has("s4", "lib", "node"))
	target("S4 orders into a struct: throughput ≥ 3x raw Go", "a/c "+fmtRatio(ratios["s4"].ac), ratios["s4"].ac >= 3, has("s4", "lib", "raw"))
	target("S4b orders into any: throughput ≥ 2x Node", "a/b "+fmtRatio(ratios["s4b"].ab), ratios["s4b"].ab >= 2, has("s4b", "lib", "node"))
	libEnc, rawEnc := clientCPU["s4c"]["lib"], clientCPU["s4c"]["raw"]
	target("S4c client CPU per order sent as a struct ≤ 0.5x encoding/json's (raw Go client)",
		fmt.Sprintf("%.2f vs %.2f µs (%s)", libEnc, rawEnc, fmtRatio(libEnc/rawEnc)), libEnc <= rawEnc/2, has("s4c", "lib", "raw"))
	target(fmt.Sprintf("S5 aggregate throughput, %d clients at once, ≥ 6x Node", cfg.clients5), "a/b "+fmtRatio(ratios["s5"].ab), ratios["s5"].ab >= 6, has("s5", "lib", "node"))
	target(fmt.Sprintf("S5 aggregate throughput, %d clients at once, ≥ 2.5x raw Go", cfg.clients5), "a/c "+fmtRatio(ratios["s5"].ac), ratios["s5"].ac >= 2.5, has("s5", "lib", "raw"))
	target("S5 server peak RSS ≤ 48 MB (worst run)", mb(int64(rssMax["s5"])), rssMax["s5"] <= 48e6, has("s5", "lib"))
	target("S6 MB/s each way ≥ 5x Node", "a/b "+fmtRatio(ratios["s6"].ab), ratios["s6"].ab >= 5, has("s6", "lib", "node"))
	target("S6 MB/s each way ≥ 2.5x raw Go", "a/c "+fmtRatio(ratios["s6"].ac), ratios["s6"].ac >= 2.5, has("s6", "lib", "raw"))
	target("S6 peak RSS of either side ≤ 40 MB (worst run)", mb(int64(rssMax["s6"])), rssMax["s6"] <= 40e6, has("s6", "lib"))
	target("S7 server CPU per message flat (±20%) across "+intsText(cfg.clients7)+" connected clients", s7.connText, s7.connFlat, s7.haveConn)
	target("S7 server CPU per byte flat (±20%) across payloads ≥ 1 KiB", s7.sizeText, s7.sizeFlat, s7.haveSize)
	shape := map[string]benchLine{}
	for _, l := range dispatch {
		shape[l.name] = l
	}
	raw, haveRaw := shape["raw"]
	target("json.RawMessage listener ≤ 3 allocs per message received", fmt.Sprintf("%.0f allocs/msg", raw.alloc), raw.alloc <= 3, haveRaw)
	none, haveNone := shape["none"]
	anyL, haveAny := shape["any"]
	target("a listener with no parameters decodes nothing (allocs: none ≤ raw < any)",
		fmt.Sprintf("none %.0f, raw %.0f, any %.0f allocs/msg", none.alloc, raw.alloc, anyL.alloc),
		none.alloc <= raw.alloc && none.alloc < anyL.alloc, haveRaw && haveNone && haveAny)
	p("\nRSS targets use the library server's worst run. \"Memory bounded by the configured queue limits whatever the senders do\" is not measured here (see the tests).\n")

	if len(dispatch) > 0 {
		p("\nReceive path, `go test -bench BenchmarkServerDispatch -benchtime=%dx ./server` (a raw client writes frames with an object payload; per message delivered to one listener on the `message` event):\n\n", cfg.benchN)
		p("| listener | ns/msg | B/msg | allocs/msg |\n|---|---:|---:|---:|\n")
		for _, l := range dispatch {
			p("| %s | %.0f | %.0f | %.0f |\n", dispatchNames[l.name], l.nsPerOp, l.bytes, l.alloc)
		}
	}
	return b.String()
}

var dispatchNames = map[string]string{
	"none":   "none: `func()`",
	"any":    "`func(any, string, string)`",
	"raw":    "`func(json.RawMessage, string, string)`",
	"struct": "struct: `func(point, string, string)`",
}

func listenerType(l string) string {
	switch l {
	case "raw":
		return "json.RawMessage"
	}
	return l
}

func fmtRatio(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "–"
	}
	return fmt.Sprintf("%.2fx", r)
}

func mb(b int64) string {
	if b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f MB", float64(b)/1e6)
}

// thousands formats a count with thousands separators.
func thousands(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

const (
	startMarker = "<!-- bench:start -->"
	endMarker   = "<!-- bench:end -->"
)

// writeDocs replaces what lies between the markers of the document (made
// if missing), leaving everything outside them as it was.
func writeDocs(path, report string) error {
	section := startMarker + "\n<!-- Written by scripts/bench; do not edit by hand. -->\n\n" + report + "\n" + endMarker
	old, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		doc := "# Performance\n\n" + section + "\n"
		return os.WriteFile(path, []byte(doc), 0o644)
	}
	if err != nil {
		return err
	}
	s := string(old)
	i, j := strings.Index(s, startMarker), strings.Index(s, endMarker)
	switch {
	case i < 0 && j < 0:
		s = strings.TrimRight(s, "\n") + "\n\n" + section + "\n"
	case i < 0 || j < i:
		return fmt.Errorf("the markers %s and %s are not in order", startMarker, endMarker)
	default:
		s = s[:i] + section + s[j+len(endMarker):]
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

// ---- profile mode -----------------------------------------------------------

func runProfiles(cfg *config) {
	dir, err := filepath.Abs(cfg.out)
	if err != nil {
		fatalf("%v", err)
	}
	runs := cfg.profileRuns
	fmt.Printf("profiling the library (a): %s, %d run(s) each, CPU profiles of both processes in %s\n", strings.ToUpper(strings.Join(cfg.scenarios, ", ")), runs, dir)
	fmt.Printf("load before: %s\n", loadNow())
	if busy := cpuPressure(); busy > 20 {
		fmt.Printf("WARNING: the CPU is busy (%.0f%% of the last 10 s some task waited for a CPU)\n", busy)
	}
	libpeer := filepath.Join(cfg.bin, "libpeer")
	for _, c := range cfg.cases() {
		sc := c.key
		profs := map[string][]string{}
		for i := 1; i <= runs; i++ {
			runDir := filepath.Join(dir, fmt.Sprintf("profile-%s-%d", sc, i))
			if err := os.MkdirAll(runDir, 0o755); err != nil {
				fatalf("%v", err)
			}
			r := cfg.runOnce("lib", sc, i, runDir)
			fmt.Printf("%s run %d: %s, server CPU %v, client CPU %v\n", strings.ToUpper(sc), i, strings.TrimSpace(r.short()),
				r.ServerCPU.Round(time.Millisecond), r.ClientCPU.Round(time.Millisecond))
			for _, role := range []string{"server", "client"} {
				profs[role] = append(profs[role], filepath.Join(runDir, sc+"-"+role+".prof"))
				profs[role+".allocs"] = append(profs[role+".allocs"], filepath.Join(runDir, sc+"-"+role+".allocs.prof"))
			}
		}
		for _, role := range []string{"server", "client", "server.allocs", "client.allocs"} {
			// Merge the runs into one profile, then summarize it.
			merged := filepath.Join(dir, sc+"-"+role+".prof")
			args := append([]string{"tool", "pprof", "-proto", "-output", merged, libpeer}, profs[role]...)
			if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
				fatalf("go tool pprof -proto: %v\n%s", err, out)
			}
			top := []string{"tool", "pprof", "-top", "-nodecount=25"}
			if strings.HasSuffix(role, ".allocs") {
				top = append(top, "-sample_index=alloc_space") // where the bytes were allocated
			}
			out, err := exec.Command("go", append(top, libpeer, merged)...).CombinedOutput()
			if err != nil {
				fatalf("go tool pprof %s: %v\n%s", merged, err, out)
			}
			_ = os.WriteFile(filepath.Join(dir, sc+"-"+role+".top.txt"), out, 0o644)
			fmt.Printf("\n==== %s %s (%d runs merged): go tool pprof -top -nodecount=25 %s %s\n%s",
				strings.ToUpper(sc), role, runs, libpeer, merged, skipHeader(out))
		}
	}
	fmt.Printf("\nexplore further, e.g.: go tool pprof -http=: %s %s\n", libpeer, filepath.Join(dir, "s1-server.prof"))
}

// skipHeader drops pprof's "File:/Type:/Time:" preamble lines that repeat
// what is printed above them, keeping "Duration" and the table.
func skipHeader(out []byte) string {
	var b strings.Builder
	for line := range strings.Lines(string(out)) {
		if strings.HasPrefix(line, "File: ") || strings.HasPrefix(line, "Build ID: ") || strings.HasPrefix(line, "Type: ") || strings.HasPrefix(line, "Time: ") {
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}
