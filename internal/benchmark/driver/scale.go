package main

// The scenarios at scale: S5 many senders, S6 large messages,
// and S7, how the server's CPU per message grows with the connections
// held and with the payload size, with its plot.

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/socketipc/socketipc/internal/benchmark/bench"
)

// A runCase is what one run of one implementation does: a scenario, and for
// S7 one point of its grid.
type runCase struct {
	key      string // "s1", ..., "s6"; S7: "s7-c<clients>" (at sizes7[0]) or "s7-b<size>" (one client)
	scenario string
	n        int // messages (per client in S5) or measured round trips (S3)
	clients  int
	size     int // S6, S7: payload bytes
}

// cases lists what every repetition runs, in order.
func (cfg *config) cases() []runCase {
	var cs []runCase
	for _, sc := range cfg.scenarios {
		switch sc {
		case "s1":
			cs = append(cs, runCase{key: sc, scenario: sc, n: cfg.n1, clients: cfg.clients})
		case "s2":
			cs = append(cs, runCase{key: sc, scenario: sc, n: cfg.n2, clients: cfg.clients})
		case "s3", "s3r":
			cs = append(cs, runCase{key: sc, scenario: sc, n: cfg.n3, clients: cfg.clients})
		case "s4", "s4b", "s4c":
			cs = append(cs, runCase{key: sc, scenario: sc, n: cfg.n4, clients: cfg.clients})
		case "s5":
			cs = append(cs, runCase{key: sc, scenario: sc, n: cfg.n5, clients: cfg.clients5})
		case "s6":
			cs = append(cs, runCase{key: sc, scenario: sc, n: cfg.n6, clients: 1, size: cfg.size6})
		case "s7":
			for _, k := range cfg.clients7 {
				cs = append(cs, cfg.s7Case(k, cfg.sizes7[0]))
			}
			for _, size := range cfg.sizes7 {
				if key := cfg.s7Key(1, size); !slices.ContainsFunc(cs, func(c runCase) bool { return c.key == key }) {
					cs = append(cs, cfg.s7Case(1, size))
				}
			}
		}
	}
	return cs
}

// s7Key names S7's point: the connection sweep at the first size, the size
// sweep with one client (sharing the point both have).
func (cfg *config) s7Key(clients, size int) string {
	if size == cfg.sizes7[0] {
		return "s7-c" + strconv.Itoa(clients)
	}
	return "s7-b" + strconv.Itoa(size)
}

func (cfg *config) s7Case(clients, size int) runCase {
	n := cfg.n7
	if cfg.bytes7 > 0 {
		n = max(min(n, cfg.bytes7/size), 2)
	}
	return runCase{key: cfg.s7Key(clients, size), scenario: "s7", n: n, clients: clients, size: size}
}

func (cfg *config) caseOf(key string) runCase {
	for _, c := range cfg.cases() {
		if c.key == key {
			return c
		}
	}
	fatalf("unknown scenario %q", key)
	return runCase{}
}

// implsOf is the implementations that run a case: S7 only -impls7.
func (cfg *config) implsOf(c runCase) []string {
	if c.scenario == "s7" {
		return cfg.impls7
	}
	return cfg.impls
}

func intList(name, s string) []int {
	var v []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			fatalf("-%s: %q is not a list of positive numbers", name, s)
		}
		v = append(v, n)
	}
	return v
}

func intsText(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = thousands(float64(n))
	}
	return strings.Join(s, ", ")
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + " KiB"
	}
	return strconv.Itoa(n) + " B"
}

func sizesText(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = byteSize(n)
	}
	return strings.Join(s, ", ")
}

// describeScale is the report's description of S5-S7.
func (cfg *config) describeScale() string {
	var b strings.Builder
	if slices.Contains(cfg.scenarios, "s5") {
		fmt.Fprintf(&b, "S5 %d clients (in one process) connect, then each sends the same %s messages as S1, all at once; aggregate throughput = all %s messages / time from the server's first receipt to its last, each client's messages checked on their own. ",
			cfg.clients5, thousands(float64(cfg.n5)), thousands(float64(cfg.n5*cfg.clients5)))
	}
	if slices.Contains(cfg.scenarios, "s6") {
		fmt.Fprintf(&b, "S6 one client sends %s messages of %s each (a JSON string: an %d-digit index, `:`, random letters), the server echoes each back, at most %d unanswered; MB/s each way = N × %s / time on the client from the first send to the last echo, every echo compared with what was sent. ",
			thousands(float64(cfg.n6)), byteSize(cfg.size6), bench.IndexWidth, cfg.inFlight, byteSize(cfg.size6))
	}
	if slices.Contains(cfg.scenarios, "s7") {
		names := make([]string, len(cfg.impls7))
		for i, impl := range cfg.impls7 {
			names[i] = strings.Fields(implNames[impl])[0] // "(a)"
		}
		fmt.Fprintf(&b, "S7 is S1 with %s clients connected of which one sends (%s payloads), and with one client sending %s payloads; %s messages per point (at most %s of payload: %s); CPU per message is the server's CPU time (getrusage of itself) from its first receipt to its last, divided by the messages in between, so that starting up and accepting the connections are not counted; implementations: %s. ",
			intsText(cfg.clients7), byteSize(cfg.sizes7[0]), sizesText(cfg.sizes7), thousands(float64(cfg.n7)), byteSize(cfg.bytes7), cfg.s7Counts(), strings.Join(names, ", "))
	}
	return b.String()
}

func (cfg *config) s7Counts() string {
	var s []string
	for _, size := range cfg.sizes7 {
		s = append(s, fmt.Sprintf("%s at %s", thousands(float64(cfg.s7Case(1, size).n)), byteSize(size)))
	}
	return strings.Join(s, ", ")
}

// s7Point is one point of S7 for one implementation, medians of its runs.
type s7Point struct {
	cpuMsg, lo, hi float64 // µs per message (median, min, max)
	perByte        float64 // ns per payload byte (median)
	rate           float64 // msgs/s
	rss            float64
	have           bool
}

func (cfg *config) s7Point(runs []run, impl string, c runCase) s7Point {
	perMsg := func(r run) float64 { return r.WindowCPU.Seconds() * 1e6 / float64(c.n-1) }
	st := summarize(collect(runs, impl, c.key, perMsg))
	if st.n == 0 {
		return s7Point{}
	}
	return s7Point{
		cpuMsg: st.med, lo: st.lo, hi: st.hi,
		perByte: st.med * 1e3 / float64(c.size),
		rate:    summarize(collect(runs, impl, c.key, func(r run) float64 { return r.Throughput })).med,
		rss:     summarize(collect(runs, impl, c.key, func(r run) float64 { return float64(r.ServerRSS) })).med,
		have:    true,
	}
}

// s7Summary is what S7's targets need.
type s7Summary struct {
	connText, sizeText string
	connFlat, sizeFlat bool
	haveConn, haveSize bool
}

// flat reports whether every value is within ±20% of the first, and the
// largest deviation.
func flat(v []float64) (bool, float64) {
	dev := 0.0
	for _, x := range v[1:] {
		if d := x/v[0] - 1; math.Abs(d) > math.Abs(dev) {
			dev = d
		}
	}
	return math.Abs(dev) <= 0.2, dev
}

func renderS7(cfg *config, runs []run, p func(string, ...any)) s7Summary {
	p("S7, growth (%s; CPU per message and per payload byte of the server between its first and last receipt):\n\n", strings.Join(cfg.impls7, ", "))
	p("| S7 point | implementation | msgs/s (median) | server CPU/msg (median) | min–max | server CPU/byte | server RSS (median) |\n")
	p("|---|---|---:|---:|---:|---:|---:|\n")
	for _, c := range cfg.cases() {
		if c.scenario != "s7" {
			continue
		}
		for i, impl := range cfg.impls7 {
			title := ""
			if i == 0 {
				who := "1 client"
				if c.clients > 1 {
					who = fmt.Sprintf("%s clients (1 sends)", thousands(float64(c.clients)))
				}
				title = fmt.Sprintf("S7 %s, %s × %s", who, thousands(float64(c.n)), byteSize(c.size))
			}
			pt := cfg.s7Point(runs, impl, c)
			p("| %s | %s | %s | %.3f µs | %.3f–%.3f | %.3f ns | %s |\n",
				title, implNames[impl], thousands(pt.rate), pt.cpuMsg, pt.lo, pt.hi, pt.perByte, mb(int64(pt.rss)))
		}
	}
	p("\n![S7: the server's CPU per message against connected clients, and per payload byte against payload size](%s)\n\n", plotFile)

	var sum s7Summary
	if !slices.Contains(cfg.impls7, "lib") {
		return sum
	}
	var conn []float64
	var connParts []string
	for _, k := range cfg.clients7 {
		pt := cfg.s7Point(runs, "lib", cfg.s7Case(k, cfg.sizes7[0]))
		conn = append(conn, pt.cpuMsg)
		connParts = append(connParts, fmt.Sprintf("%d: %.3f", k, pt.cpuMsg))
	}
	if len(conn) > 1 {
		var dev float64
		sum.connFlat, dev = flat(conn)
		sum.haveConn = true
		sum.connText = fmt.Sprintf("%s µs/msg (%+.0f%%)", strings.Join(connParts, ", "), dev*100)
	}
	var size []float64
	var sizeParts []string
	for _, n := range cfg.sizes7 {
		if n < 1024 {
			continue
		}
		pt := cfg.s7Point(runs, "lib", cfg.s7Case(1, n))
		size = append(size, pt.perByte)
		sizeParts = append(sizeParts, fmt.Sprintf("%s: %.3f", byteSize(n), pt.perByte))
	}
	if len(size) > 1 {
		var dev float64
		sum.sizeFlat, dev = flat(size)
		sum.haveSize = true
		sum.sizeText = fmt.Sprintf("%s ns/B (%+.0f%%)", strings.Join(sizeParts, ", "), dev*100)
	}
	return sum
}
