package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func s7Config() *config {
	return &config{
		scenarios: []string{"s6", "s7"}, impls: []string{"lib", "node", "raw"}, impls7: []string{"lib", "raw"},
		n6: 10, size6: 1 << 20, clients7: []int{1, 8, 64, 512}, sizes7: []int{16, 1024, 65536},
		n7: 1000, bytes7: 1 << 20,
	}
}

// TestCases checks S7's grid: the connection sweep at the first size, the
// size sweep with one client, sharing the point both have, and fewer
// messages where the payload is large.
func TestCases(t *testing.T) {
	cfg := s7Config()
	var keys []string
	for _, c := range cfg.cases() {
		keys = append(keys, c.key)
		if c.scenario == "s7" && c.n*c.size > max(cfg.bytes7, 2*c.size) {
			t.Errorf("%s: %d messages of %d bytes, more than -bytes7 %d", c.key, c.n, c.size, cfg.bytes7)
		}
	}
	want := []string{"s6", "s7-c1", "s7-c8", "s7-c64", "s7-c512", "s7-b1024", "s7-b65536"}
	if !slices.Equal(keys, want) {
		t.Fatalf("cases %v, want %v", keys, want)
	}
	if c := cfg.caseOf("s7-c512"); c.clients != 512 || c.size != 16 || c.n != 1000 {
		t.Errorf("s7-c512 is %+v", c)
	}
	if c := cfg.caseOf("s7-b65536"); c.clients != 1 || c.n != 16 {
		t.Errorf("s7-b65536 is %+v", c)
	}
	if got := cfg.implsOf(cfg.caseOf("s7-c1")); !slices.Equal(got, []string{"lib", "raw"}) {
		t.Errorf("S7 runs %v", got)
	}
}

func TestFlat(t *testing.T) {
	for _, tc := range []struct {
		v    []float64
		flat bool
		dev  float64
	}{
		{[]float64{1, 1.1, 0.85, 1.19}, true, 0.19},
		{[]float64{1, 1.1, 1.3}, false, 0.3},
		{[]float64{2, 1.5}, false, -0.25},
	} {
		ok, dev := flat(tc.v)
		if ok != tc.flat || dev < tc.dev-1e-9 || dev > tc.dev+1e-9 {
			t.Errorf("flat(%v) = %v, %.3f; want %v, %.3f", tc.v, ok, dev, tc.flat, tc.dev)
		}
	}
}

// TestPlotS7 checks that the plot is well-formed SVG with a point for every
// measured median, and that a point without runs is left out.
func TestPlotS7(t *testing.T) {
	cfg := s7Config()
	var runs []run
	for _, c := range cfg.cases() {
		for _, impl := range cfg.impls7 {
			if impl == "raw" && c.key == "s7-c512" {
				continue // not measured: no point
			}
			runs = append(runs, run{Impl: impl, Scenario: c.key, WindowCPU: time.Duration(c.n) * time.Microsecond, Throughput: 1e6})
		}
	}
	svg := plotS7(cfg, runs)
	dec := xml.NewDecoder(bytes.NewReader(svg))
	circles := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, svg)
		}
		if el, ok := tok.(xml.StartElement); ok && el.Name.Local == "circle" {
			circles++
		}
	}
	// Left: 4 points for lib, 3 for raw; right: 3 each.
	if circles != 4+3+3+3 {
		t.Errorf("%d points, want 13", circles)
	}
	for _, s := range []string{"(a) socketipc", "(c) raw Go baseline", "512", "64 KiB"} {
		if !strings.Contains(string(svg), s) {
			t.Errorf("the plot does not show %q", s)
		}
	}
}
