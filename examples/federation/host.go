package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/socketipc/socketipc/internal/examplekit"
	"github.com/socketipc/socketipc/natsbridge"
	"github.com/socketipc/socketipc/server"
)

// The messages between a host and its plugins, in JSON.
type (
	hello struct {
		Name string `json:"name"`
	}
	// command tells a plugin what to do next in the script.
	command struct {
		Do    string `json:"do"`              // "news" or "ask"
		Text  string `json:"text,omitempty"`  // the news
		Topic string `json:"topic,omitempty"` // the request's topic
		Input string `json:"input,omitempty"` // the request's data
	}
	// report is what a plugin tells its host it did or got.
	report struct {
		Kind string `json:"kind"` // "news", "asked", "answered"
		Text string `json:"text"`
	}
	// news crosses NATS: the bridged topic.
	news struct {
		From string `json:"from"`
		Text string `json:"text"`
	}
	// description answers the "describe" request.
	description struct {
		Who     string `json:"who"`
		Runtime string `json:"runtime"`
	}
)

// The bridge's topics: events on "news", requests on the others.
var (
	eventTopics   = []string{"news"}
	requestTopics = []string{"describe", "upper", "wordcount"}
)

// answers are the request topics each host's plugins answer for plugins of
// the other host (Options.Answers): a request for one of them crosses NATS
// to the one host that answers it.
var answers = map[string][]string{"east": {"wordcount"}, "west": {"upper"}}

// question is what each host's Go plugin asks the other host's plugins.
var question = map[string]command{
	"east": {Do: "ask", Topic: "upper", Input: "across the federation"},
	"west": {Do: "ask", Topic: "wordcount", Input: "one socket per host and NATS between them"},
}

type host struct {
	cfg  config
	p    *printer
	name string
	srv  *server.Server

	mu      sync.Mutex
	plugins map[string]string // plugin name -> client id
	arrived chan struct{}     // a plugin said hello
	reports chan report       // from the local plugins
	procs   []*pluginProc
}

type pluginProc struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.Closer
	exited chan struct{}
	out    *examplekit.LineWriter
}

// runHost runs one host through the script. After its part, it waits for
// wait (west: the end of its stdin; east: west's end) before shutting down,
// so that it goes on answering the other host meanwhile.
func runHost(ctx context.Context, cfg config, p *printer, stdin io.Reader) error {
	return runHostWait(ctx, cfg, p, func(context.Context) error {
		_, err := io.Copy(io.Discard, stdin)
		return err
	})
}

func runHostWait(ctx context.Context, cfg config, p *printer, wait func(context.Context) error) (err error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	h := &host{cfg: cfg, p: p, name: cfg.name, plugins: map[string]string{},
		arrived: make(chan struct{}, 10), reports: make(chan report, 100)}
	root, err := examplekit.FindRoot(cfg.root)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "fed")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	socket := filepath.Join(tmp, h.name+".sock")
	if h.srv, err = server.New(server.Options{SocketFile: socket, SocketMode: 0o600}); err != nil {
		return err
	}
	h.listen()
	if err := h.srv.Listen(); err != nil {
		return err
	}
	defer h.srv.Close()
	h.say("listening on its own socket %s", socket)

	// The plugins: this program as the Go plugin, and the Node plugin.
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	defer h.stopPlugins()
	if err := h.startPlugin("go-plugin", exe, "--role", "plugin", "--name", "go-plugin", "--host", h.name, "--socket", socket); err != nil {
		return err
	}
	if cfg.noNode {
		h.say("NOT starting the Node plugin (--no-node)")
	} else if node, script, err := examplekit.FindNode(cfg.node, root, "examples/federation/nodeplugin/plugin.js"); err != nil {
		h.say("NOT starting the Node plugin: %v", err)
		h.say("to run it, install Node.js 20 and run scripts/test, or `cd test/node && npm ci`; carrying on with the Go plugin only")
	} else if err := h.startPlugin("node-plugin", node, script, "--socket", socket, "--name", "node-plugin", "--host", h.name); err != nil {
		return err
	}
	if err := h.waitHellos(ctx); err != nil {
		return err
	}

	// Join NATS.
	nc, err := nats.Connect(cfg.nats, nats.Name("federation "+h.name))
	if err != nil {
		return fmt.Errorf("connecting to NATS at %s: %w", cfg.nats, err)
	}
	defer nc.Close()
	bridge, err := natsbridge.ForServer(h.srv, nc, natsbridge.Options{
		Prefix:   cfg.prefix,
		Topics:   eventTopics,
		Requests: requestTopics,
		Answerer: h.answerer,
		Answers:  answers[h.name],
	})
	if err != nil {
		return err
	}
	defer bridge.Close()
	h.say("bridged to NATS: events %v, requests %v; answers %v for the other host", eventTopics, requestTopics, answers[h.name])
	peer, err := h.meet(ctx, nc)
	if err != nil {
		return err
	}

	// Events: one of our plugins sends news; the other host's plugins get
	// it, and ours get the other host's.
	sender := "node-plugin"
	if h.name == "east" || h.plugins[sender] == "" {
		sender = "go-plugin"
	}
	h.say("tells %s/%s to send news", h.name, sender)
	if err := h.srv.Send("cmd", command{Do: "news", Text: "hello from " + h.name}, h.plugins[sender]); err != nil {
		return err
	}
	if err := h.waitReports(ctx, "news", len(h.plugins)); err != nil {
		return err
	}

	// The Server's own request to a plugin of the other host, by its id.
	target := "node-plugin"
	if peer[target] == "" {
		target = "go-plugin"
	}
	var desc description
	rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
	err = bridge.Request(rctx, peer[target], "describe", map[string]string{"asker": h.name + " host"}, &desc)
	rcancel()
	if err != nil {
		return fmt.Errorf("asking %s/%s: %w", cfg.peer, target, err)
	}
	h.say("asked %s/%s (client %s) across NATS with Bridge.Request \"describe\": it is %s, running %s",
		cfg.peer, target, short(peer[target]), desc.Who, desc.Runtime)

	// A plugin's request, answered by a plugin of the other host.
	q := question[h.name]
	h.say("tells %s/go-plugin to ask %s(%q); only %s answers %s", h.name, q.Topic, q.Input, cfg.peer, q.Topic)
	if err := h.srv.Send("cmd", q, h.plugins["go-plugin"]); err != nil {
		return err
	}
	if err := h.waitReports(ctx, "asked", 1); err != nil {
		return err
	}

	h.say("my part is done")
	if err := wait(ctx); err != nil {
		return err
	}
	h.say("shutting down")
	bridge.Close()
	h.stopPlugins()
	h.srv.Close()
	h.say("done")
	return nil
}

func (h *host) say(format string, args ...any) { h.p.say(h.name+": "+format, args...) }

func (h *host) listen() {
	h.srv.On("message.hello", func(hi hello, clientID string) {
		h.mu.Lock()
		h.plugins[hi.Name] = clientID
		h.mu.Unlock()
		h.say("%s/%s said hello (client %s)", h.name, hi.Name, short(clientID))
		select { // never block the event loop: only the first hellos are waited for
		case h.arrived <- struct{}{}:
		default:
		}
	})
	h.srv.On("message.report", func(r report, clientID string) {
		h.say("%s/%s %s", h.name, h.pluginName(clientID), r.Text)
		select {
		case h.reports <- r:
		default:
		}
	})
	h.srv.On("error", func(err error) { h.say("error: %v", err) })
}

func (h *host) pluginName(clientID string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for name, id := range h.plugins {
		if id == clientID {
			return name
		}
	}
	return "client " + short(clientID)
}

// answerer picks the local plugin that answers a request from NATS.
func (h *host) answerer(topic string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if topic == "wordcount" && h.plugins["node-plugin"] != "" {
		return h.plugins["node-plugin"]
	}
	return h.plugins["go-plugin"]
}

func (h *host) startPlugin(name, bin string, args ...string) error {
	cmd := exec.Command(bin, args...)
	w := examplekit.NewLineWriter(func(line string) { h.p.line(h.name + "/" + name + " | " + line) })
	cmd.Stdout, cmd.Stderr = w, w
	cmd.WaitDelay = time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	pp := &pluginProc{name: name, cmd: cmd, stdin: stdin, exited: make(chan struct{}), out: w}
	go func() {
		err := cmd.Wait()
		w.Flush()
		status := "exit status 0"
		if err != nil {
			status = err.Error()
		}
		h.say("%s/%s exited (%s)", h.name, name, status)
		close(pp.exited)
	}()
	h.mu.Lock()
	h.procs = append(h.procs, pp)
	h.mu.Unlock()
	h.say("started %s/%s (pid %d)", h.name, name, cmd.Process.Pid)
	return nil
}

func (h *host) waitHellos(ctx context.Context) error {
	h.mu.Lock()
	n := len(h.procs)
	h.mu.Unlock()
	for range n {
		select {
		case <-h.arrived:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the plugins' hello: %w", ctx.Err())
		}
	}
	return nil
}

// waitReports waits for n reports of kind from the local plugins.
func (h *host) waitReports(ctx context.Context, kind string, n int) error {
	for n > 0 {
		select {
		case r := <-h.reports:
			if r.Kind == kind {
				n--
			}
		case <-ctx.Done():
			return fmt.Errorf("waiting for the plugins' %q reports: %w", kind, ctx.Err())
		}
	}
	return nil
}

// meet tells the other host which plugins this one has (their client ids,
// for Bridge.Request) and learns the other's: each host answers a NATS
// request on its own subject, and asks the other's until it answers. Our
// bridge's subscriptions were made, on the same connection, before we
// answer, so once each host has the other's answer, both bridges are ready.
func (h *host) meet(ctx context.Context, nc *nats.Conn) (map[string]string, error) {
	subject := func(name string) string { return h.cfg.prefix + ".host." + name + ".plugins" }
	h.mu.Lock()
	ours, err := json.Marshal(h.plugins)
	h.mu.Unlock()
	if err != nil {
		return nil, err
	}
	sub, err := nc.Subscribe(subject(h.name), func(m *nats.Msg) { _ = m.Respond(ours) })
	if err != nil {
		return nil, err
	}
	_ = sub // ends with the connection
	if err := nc.Flush(); err != nil {
		return nil, err
	}
	for {
		m, err := nc.Request(subject(h.cfg.peer), nil, time.Second)
		if err == nil {
			var peer map[string]string
			if err := json.Unmarshal(m.Data, &peer); err != nil {
				return nil, err
			}
			var list []string
			for name, id := range peer {
				list = append(list, fmt.Sprintf("%s/%s is client %s", h.cfg.peer, name, short(id)))
			}
			slices.Sort(list)
			h.say("met %s through NATS: %s", h.cfg.peer, strings.Join(list, ", "))
			return peer, nil
		}
		if !errors.Is(err, nats.ErrNoResponders) && !errors.Is(err, nats.ErrTimeout) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s on NATS: %w", h.cfg.peer, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stopPlugins asks the plugins to exit (the "shutdown" message, then their
// stdin), kills those that do not, and waits for them.
func (h *host) stopPlugins() {
	h.mu.Lock()
	procs := h.procs
	h.procs = nil
	h.mu.Unlock()
	if len(procs) == 0 {
		return
	}
	_ = h.srv.Broadcast("shutdown", nil)
	for _, pp := range procs {
		select {
		case <-pp.exited:
		case <-time.After(2 * time.Second):
			pp.stdin.Close()
			select {
			case <-pp.exited:
			case <-time.After(2 * time.Second):
				h.say("%s/%s did not exit; killing it", h.name, pp.name)
				_ = pp.cmd.Process.Kill()
				<-pp.exited
			}
		}
	}
}

func short(clientID string) string {
	if len(clientID) < 8 {
		return clientID
	}
	return clientID[:8]
}
