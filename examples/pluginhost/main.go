// Command pluginhost shows socketipc embedded in a plugin host, end to end:
// a Go program (the host, a socketipc server) starts two plugin processes,
// one written in Go with this library (goplugin/) and one in Node with the
// unmodified Node package (nodeplugin/plugin.js), and gives them work.
//
//   - Each plugin connects and introduces itself: a "hello" message with its
//     name, what it can do and its pid. The host checks the pid against the
//     kernel's peer credentials and keeps a registry from client id to plugin.
//   - The host sends each registered plugin "job" messages it can do (the Go
//     plugin: upper, reverse; the Node plugin: sum, wordcount) and prints the
//     "result" answers.
//   - Right after hello, the host asks the plugin for its status with a
//     request (server.Request; the plugins answer with client.Handle, or
//     in Node with a few lines following the $req/$res convention).
//   - When a plugin's connection ends ("connectionClose"), the host drops it
//     from the registry and queues its unanswered jobs again; when its
//     process exits, the host starts a new one, which says hello and gets
//     the queued jobs. To show this, the host kills the Go plugin with
//     SIGKILL after a few results (a crash), and the Node plugin retires by
//     itself after a few jobs (a planned exit).
//   - At the end, the host broadcasts "shutdown", waits for the plugins to
//     exit, and closes (which removes the socket file).
//
// With no flags it runs by itself for a few seconds in a temporary folder:
//
//	go run ./examples/pluginhost
//
// It builds the Go plugin with `go build` into that folder first (or use
// --goplugin PATH for a binary you built). The Node plugin needs Node.js and
// the Node package installed for the interop tests: run scripts/test, or
// `cd test/node && npm ci`. Without them the host says so and runs the
// Go plugin only.
//
// Plugins can also be started by hand against a host that waits for them
// (--socket PATH --forever; the host starts its own plugins too):
//
//	go run ./examples/pluginhost/goplugin --socket PATH
//	node examples/pluginhost/nodeplugin/plugin.js --socket PATH
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/socketipc/socketipc/internal/examplekit"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
)

type config struct {
	socket       string
	duration     time.Duration // 0: until interrupted
	interval     time.Duration // between two rounds of jobs
	killAfter    int           // SIGKILL the first Go plugin after this many results; 0: never
	nodeMaxJobs  int           // the Node plugin retires after this many jobs; 0: never
	restartDelay time.Duration // between a plugin's exit and its replacement
	stopTimeout  time.Duration // how long plugins get to exit at the end
	goplugin     string        // a prebuilt Go plugin; empty: build it
	node         string        // the node binary; empty: $SOCKETIPC_NODE or node on PATH
	noNode       bool          // run the Go plugin only
	root         string        // the repository; empty: found from here
}

func main() {
	var cfg config
	var forever bool
	flag.StringVar(&cfg.socket, "socket", "", "socket file (default: a new one in a temporary folder)")
	flag.DurationVar(&cfg.duration, "duration", 4*time.Second, "how long to run once the plugins are started")
	flag.DurationVar(&cfg.interval, "interval", 250*time.Millisecond, "time between two rounds of jobs")
	flag.IntVar(&cfg.killAfter, "kill-after", 3, "SIGKILL the first Go plugin after this many results (0: never)")
	flag.IntVar(&cfg.nodeMaxJobs, "node-max-jobs", 5, "the Node plugin retires after this many jobs (0: never)")
	flag.DurationVar(&cfg.restartDelay, "restart-delay", 200*time.Millisecond, "time between a plugin's exit and its restart")
	flag.StringVar(&cfg.goplugin, "goplugin", "", "a prebuilt Go plugin binary (default: go build one)")
	flag.StringVar(&cfg.node, "node", "", "the node binary (default: $SOCKETIPC_NODE, or node on PATH)")
	flag.BoolVar(&cfg.noNode, "no-node", false, "run the Go plugin only")
	flag.StringVar(&cfg.root, "root", "", "the socketipc repository (default: found from the working directory)")
	flag.BoolVar(&forever, "forever", false, "run until interrupted")
	flag.Parse()
	cfg.stopTimeout = 3 * time.Second
	if forever {
		cfg.duration = 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pluginhost:", err)
		os.Exit(1)
	}
}

// printer serialises output lines from the host's events and the plugins'
// output.
type printer struct {
	mu    sync.Mutex
	out   io.Writer
	start time.Time
}

func (p *printer) say(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, "%5.1fs  %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

// The messages. Plugins in any language speak them as JSON.
type (
	hello struct {
		Name         string   `json:"name"`
		Capabilities []string `json:"capabilities"`
		PID          int      `json:"pid"`
	}
	jobMsg struct {
		ID    int    `json:"id"`
		Op    string `json:"op"`
		Input any    `json:"input"`
	}
	result struct {
		ID     int             `json:"id"`
		Output json.RawMessage `json:"output"`
		Error  string          `json:"error"`
	}
	status struct {
		Runtime string `json:"runtime"`
		Jobs    int    `json:"jobs"`
	}
)

// samples are inputs for each kind of job.
var samples = map[string][]any{
	"upper":     {"socket files", "hello, gopher", "ünïcödé ok"},
	"reverse":   {"stressed", "drawer", "gateman", "日本語"},
	"sum":       {[]int{1, 2, 3}, []float64{0.5, 0.25, 0.25}, []int{10, -20, 30, 40}},
	"wordcount": {"the quick brown fox", "one  two three\nfour", ""},
}

// plugin is a registered plugin: one live connection that said hello.
type plugin struct {
	clientID string
	name     string
	gen      int // which start of its slot this is (1, 2, ...)
	caps     []string
	nextCap  int
	results  int
	killed   bool
}

func (pl *plugin) String() string {
	if pl.gen == 0 {
		return pl.name + " (external)"
	}
	return fmt.Sprintf("%s #%d", pl.name, pl.gen)
}

// job is a job sent and not answered yet, or waiting for a plugin.
type job struct {
	jobMsg
	to      string // client id it was sent to, empty while waiting
	retried bool
	sent    time.Time
}

// slot runs one plugin program, restarting it when it exits.
type slot struct {
	name    string
	command func() *exec.Cmd // a fresh command for each start
	gen     int
	cmd     *exec.Cmd     // the current process
	stdin   io.Closer     // closing it tells the plugin the host is going
	exited  chan struct{} // closed when the current process has exited
	crashes int           // exits in a row without ever registering
	seen    bool          // the current process registered
}

type host struct {
	cfg config
	p   *printer
	srv *server.Server

	mu       sync.Mutex
	registry map[string]*plugin // client id -> plugin
	pending  map[int]*job       // job id -> job
	waiting  []*job             // jobs whose plugin went away, for the next one that can do them
	nextJob  int
	slots    map[string]*slot
	stopping bool

	stop    chan struct{} // closed when the host starts shutting down
	waiters sync.WaitGroup
	asks    sync.WaitGroup // status requests in flight
}

func run(ctx context.Context, cfg config, out io.Writer) error {
	p := &printer{out: out, start: time.Now()}
	root, err := examplekit.FindRoot(cfg.root)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "pluginhost")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if cfg.socket == "" {
		cfg.socket = filepath.Join(tmp, "host.sock")
	}
	if cfg.interval <= 0 {
		cfg.interval = 250 * time.Millisecond
	}
	if cfg.stopTimeout <= 0 {
		cfg.stopTimeout = 3 * time.Second
	}

	// The plugin programs.
	goBin := cfg.goplugin
	if goBin == "" {
		goBin = filepath.Join(tmp, "goplugin")
		p.say("host: building the Go plugin (go build ./examples/pluginhost/goplugin)")
		if err := buildGoPlugin(ctx, root, goBin); err != nil {
			return err
		}
	}
	var nodeBin, nodeScript string
	if cfg.noNode {
		p.say("host: the Node plugin is off (--no-node)")
	} else if nodeBin, nodeScript, err = examplekit.FindNode(cfg.node, root, "examples/pluginhost/nodeplugin/plugin.js"); err != nil {
		p.say("host: NOT starting the Node plugin: %v", err)
		p.say("host: to run it, install Node.js 20 and run scripts/test, or `cd test/node && npm ci`; carrying on with the Go plugin only")
	}

	srv, err := server.New(server.Options{SocketFile: cfg.socket, SocketMode: 0o600})
	if err != nil {
		return err
	}
	h := &host{
		cfg:      cfg,
		p:        p,
		srv:      srv,
		registry: make(map[string]*plugin),
		pending:  make(map[int]*job),
		slots:    make(map[string]*slot),
		stop:     make(chan struct{}),
	}
	h.listen()
	if err := srv.Listen(); err != nil {
		srv.Close()
		return err
	}
	p.say("host: listening on %s", cfg.socket)

	h.addSlot("go-plugin", func() *exec.Cmd {
		return exec.Command(goBin, "--socket", cfg.socket, "--name", "go-plugin")
	})
	if nodeBin != "" {
		h.addSlot("node-plugin", func() *exec.Cmd {
			return exec.Command(nodeBin, nodeScript, "--socket", cfg.socket, "--name", "node-plugin",
				"--max-jobs", fmt.Sprint(cfg.nodeMaxJobs))
		})
	}
	if err := h.startAll(); err != nil {
		h.shutdown()
		return err
	}

	if cfg.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.duration)
		defer cancel()
	}
	tick := time.NewTicker(cfg.interval)
	defer tick.Stop()
loop:
	for {
		select {
		case <-tick.C:
			h.dispatch()
		case <-ctx.Done():
			break loop
		}
	}
	h.shutdown()
	return nil
}

// listen sets up the server's listeners. They run one at a time, in order,
// on the server's event goroutine; the mutex is for the host's own
// goroutines (the dispatcher and the process supervisors).
func (h *host) listen() {
	p, srv := h.p, h.srv
	srv.On("message.hello", func(hi hello, clientID string) {
		// The kernel knows which process is at the other end; trust it
		// rather than what the plugin says.
		pid, kernel := hi.PID, "unknown"
		if conn := srv.Conn(clientID); conn != nil {
			if cred, err := conn.PeerCred(); err == nil {
				pid, kernel = int(cred.PID), fmt.Sprint(cred.PID)
			}
		}
		h.mu.Lock()
		pl := &plugin{clientID: clientID, name: hi.Name, caps: hi.Capabilities}
		if s := h.slots[hi.Name]; s != nil && s.cmd != nil && s.cmd.Process.Pid == pid {
			pl.gen = s.gen
			s.seen = true
			s.crashes = 0
		}
		h.registry[clientID] = pl
		h.mu.Unlock()
		p.say("host: %v registered: client %s, pid %d (the kernel says %s), can do %s",
			pl, short(clientID), hi.PID, kernel, strings.Join(hi.Capabilities, ", "))
		h.dispatchTo(clientID) // at once, starting with any jobs left over by a dead plugin
		// A request waits for its reply, which this very loop delivers: ask
		// from another goroutine.
		h.asks.Add(1)
		go h.askStatus(clientID, pl.String())
	})
	srv.On("message.result", func(r result, clientID string) {
		h.mu.Lock()
		pl := h.registry[clientID]
		j := h.pending[r.ID]
		if j != nil && j.to == clientID {
			delete(h.pending, r.ID)
		} else {
			j = nil
		}
		if pl != nil && j != nil {
			pl.results++
		}
		h.mu.Unlock()
		switch {
		case pl == nil || j == nil:
			p.say("host: unexpected result %d from client %s", r.ID, short(clientID))
		case r.Error != "":
			p.say("host: job %d %s(%s) failed on %v: %s", r.ID, j.Op, show(j.Input), pl, r.Error)
		default:
			again := ""
			if j.retried {
				again = ", a retried job"
			}
			p.say("host: job %d %s(%s) = %s from %v (%v%s)", r.ID, j.Op, show(j.Input), r.Output, pl,
				time.Since(j.sent).Round(100*time.Microsecond), again)
		}
	})
	srv.On("connectionClose", func(clientID string) {
		h.mu.Lock()
		pl := h.registry[clientID]
		delete(h.registry, clientID)
		var lost []int
		for id, j := range h.pending {
			if j.to == clientID {
				delete(h.pending, id)
				j.to, j.retried = "", true
				h.waiting = append(h.waiting, j)
				lost = append(lost, id)
			}
		}
		stopping := h.stopping
		h.mu.Unlock()
		switch {
		case pl == nil:
			return // it never said hello
		case stopping:
			p.say("host: %v disconnected", pl)
			return
		}
		if len(lost) == 0 {
			p.say("host: %v is gone (its connection closed); it had no unanswered job", pl)
			return
		}
		slices.Sort(lost)
		p.say("host: %v is gone (its connection closed); its unanswered job(s) %v will go to the next plugin that can do them",
			pl, lost)
	})
	srv.On("error", func(err error) {
		var errno syscall.Errno
		switch {
		case errors.Is(err, message.ErrBadClient):
			// A job for a plugin that just went away; dispatchTo queues it again.
		case errors.As(err, &errno) && (errno == syscall.ECONNRESET || errno == syscall.EPIPE):
			// A plugin died: with messages unread (the kernel then resets the
			// connection), or while the host was writing to it.
			// connectionClose follows.
			p.say("host: a connection broke (%v): its plugin died", errno)
		default:
			p.say("host: error: %v", err)
		}
	})
	srv.On("close", func() { p.say("host: server closed") })
}

// askStatus asks a plugin for its status: a request, answered by the
// plugin's "status" handler.
func (h *host) askStatus(clientID, name string) {
	defer h.asks.Done()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var st status
	if err := h.srv.Request(ctx, clientID, "status", nil, &st); err != nil {
		h.p.say("host: %s status request failed: %v", name, err)
		return
	}
	h.p.say("host: %s status (a request): runtime %s, %d jobs done", name, st.Runtime, st.Jobs)
}

// dispatch sends each registered plugin one job.
func (h *host) dispatch() {
	h.mu.Lock()
	ids := make([]string, 0, len(h.registry))
	for id := range h.registry {
		ids = append(ids, id)
	}
	h.mu.Unlock()
	slices.Sort(ids)
	for _, id := range ids {
		h.dispatchTo(id)
	}
}

// dispatchTo sends one plugin the waiting jobs it can do, or else a new one.
func (h *host) dispatchTo(clientID string) {
	h.mu.Lock()
	pl := h.registry[clientID]
	if pl == nil || h.stopping || len(pl.caps) == 0 {
		h.mu.Unlock()
		return
	}
	var jobs []*job
	rest := h.waiting[:0]
	for _, j := range h.waiting {
		if slices.Contains(pl.caps, j.Op) {
			jobs = append(jobs, j)
		} else {
			rest = append(rest, j)
		}
	}
	h.waiting = rest
	if len(jobs) == 0 {
		op := pl.caps[pl.nextCap%len(pl.caps)]
		pl.nextCap++
		h.nextJob++
		in := samples[op]
		var input any = ""
		if len(in) > 0 {
			input = in[h.nextJob%len(in)]
		}
		jobs = append(jobs, &job{jobMsg: jobMsg{ID: h.nextJob, Op: op, Input: input}})
	}
	now := time.Now()
	for _, j := range jobs {
		j.to, j.sent = clientID, now
		h.pending[j.ID] = j
	}
	// The demonstration of a crash: the first Go plugin, once it has
	// answered killAfter jobs, is killed with its next job in flight.
	var kill *exec.Cmd
	if pl.name == "go-plugin" && pl.gen == 1 && h.cfg.killAfter > 0 && pl.results >= h.cfg.killAfter && !pl.killed {
		pl.killed = true
		kill = h.slots[pl.name].cmd
	}
	results := pl.results
	h.mu.Unlock()
	if kill != nil {
		defer func() {
			h.p.say("host: %v has answered %d jobs; killing it (SIGKILL, pid %d) with job %d in flight, to show a crash",
				pl, results, kill.Process.Pid, jobs[len(jobs)-1].ID)
			kill.Process.Signal(syscall.SIGKILL)
		}()
	}

	for _, j := range jobs {
		if err := h.srv.Send("job", j.jobMsg, clientID); err != nil {
			// Gone in the meantime: queue it again, unless connectionClose did.
			h.mu.Lock()
			if h.pending[j.ID] == j {
				delete(h.pending, j.ID)
				j.to, j.retried = "", true
				h.waiting = append(h.waiting, j)
			}
			h.mu.Unlock()
		}
	}
}

func (h *host) addSlot(name string, command func() *exec.Cmd) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.slots[name] = &slot{name: name, command: command}
}

func (h *host) startAll() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, name := range []string{"go-plugin", "node-plugin"} {
		if s := h.slots[name]; s != nil {
			if err := h.startLocked(s); err != nil {
				return err
			}
		}
	}
	return nil
}

// startLocked starts the slot's program, with h.mu held, and watches it.
func (h *host) startLocked(s *slot) error {
	cmd := s.command()
	gen := s.gen + 1
	tag := fmt.Sprintf("%s #%d", s.name, gen)
	w := examplekit.NewLineWriter(func(line string) { h.p.say("  %s | %s", tag, line) })
	cmd.Stdout, cmd.Stderr = w, w
	cmd.WaitDelay = time.Second // don't hang on output pipes held by a grandchild
	// A process group of its own: a Ctrl-C in the terminal reaches the
	// host only, which then shuts the plugins down in order.
	cmd.SysProcAttr = ownProcessGroup()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", tag, err)
	}
	s.gen, s.cmd, s.stdin, s.seen = gen, cmd, stdin, false
	s.exited = make(chan struct{})
	h.p.say("host: started %s (pid %d)", tag, cmd.Process.Pid)
	h.waiters.Add(1)
	go h.supervise(s, cmd, tag, s.exited, w)
	return nil
}

// supervise waits for one process to exit and starts the next one, unless
// the host is stopping or the plugin keeps dying before it says hello.
func (h *host) supervise(s *slot, cmd *exec.Cmd, tag string, exited chan struct{}, w *examplekit.LineWriter) {
	defer h.waiters.Done()
	err := cmd.Wait()
	w.Flush()
	close(exited)
	status := "exit status 0"
	if err != nil {
		status = err.Error()
	}
	h.mu.Lock()
	stopping := h.stopping
	if !s.seen {
		s.crashes++
	}
	crashes := s.crashes
	h.mu.Unlock()
	if stopping {
		h.p.say("host: %s (pid %d) exited (%s)", tag, cmd.Process.Pid, status)
		return
	}
	if crashes >= 3 {
		h.p.say("host: %s (pid %d) exited (%s) before saying hello, %d times in a row; giving up on it",
			tag, cmd.Process.Pid, status, crashes)
		return
	}
	h.p.say("host: %s (pid %d) exited (%s); restarting it in %v", tag, cmd.Process.Pid, status, h.cfg.restartDelay)
	t := time.NewTimer(h.cfg.restartDelay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-h.stop:
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopping {
		return
	}
	if err := h.startLocked(s); err != nil {
		h.p.say("host: %v; giving up on %s", err, s.name)
	}
}

// shutdown asks the plugins to exit, waits for them (killing those that
// take too long), then closes the server.
func (h *host) shutdown() {
	h.p.say("host: shutting down")
	h.mu.Lock()
	h.stopping = true
	close(h.stop)
	var running []*slot
	for _, s := range h.slots {
		if s.cmd != nil {
			running = append(running, s)
		}
	}
	h.mu.Unlock()
	all := make(chan struct{})
	go func() {
		h.waiters.Wait()
		close(all)
	}()
	// The polite way: a message to every plugin connected.
	h.srv.Broadcast("shutdown", nil)
	wait := time.NewTimer(h.cfg.stopTimeout / 3)
	defer wait.Stop()
	select {
	case <-all:
	case <-wait.C:
		// The way that works even for a plugin not connected: its stdin.
		for _, s := range running {
			s.stdin.Close()
		}
		wait.Reset(h.cfg.stopTimeout - h.cfg.stopTimeout/3)
		select {
		case <-all:
		case <-wait.C:
			for _, s := range running {
				select {
				case <-s.exited:
				default:
					h.p.say("host: %s #%d did not exit within %v; killing it", s.name, s.gen, h.cfg.stopTimeout)
					s.cmd.Process.Kill()
				}
			}
			<-all
		}
	}
	h.srv.Close()
	h.asks.Wait() // Close ended any request still waiting
	h.p.say("host: done")
}

func buildGoPlugin(ctx context.Context, root, out string) error {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("building the Go plugin needs the go command on PATH (or pass --goplugin PATH): %w", err)
	}
	cmd := exec.CommandContext(ctx, goCmd, "build", "-o", out, "./examples/pluginhost/goplugin")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the Go plugin: %w\n%s", err, b)
	}
	return nil
}

func short(clientID string) string { return clientID[:8] }

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
