package main

// S7's plot: an SVG drawn with the standard library only.

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"slices"
	"strings"
)

// plotFile is the name of S7's plot, beside the document (and in -out).
const plotFile = "s7.svg"

var plotColors = map[string]string{"lib": "#1f6fb4", "raw": "#777777", "node": "#e07b16"}

// series is one implementation's line in a panel: x positions are the
// indexes of the panel's categories.
type series struct {
	impl        string
	y, lo, hi   []float64 // NaN where not measured
	valueFormat string
	band        int // shade ±20% around y[band], the target's band; -1: none
}

type panel struct {
	title, xTitle, yTitle string
	cats                  []string
	logY                  bool
	lines                 []series
}

// plotS7 draws two panels: the server's CPU per message against connected
// clients (S7's first sweep), and per payload byte against payload size
// (the second), each with the ±20% band of the target around the library's
// first point (the right panel: its first point at 1 KiB or more).
func plotS7(cfg *config, runs []run) []byte {
	left := panel{
		title:  "CPU per message vs connected clients (" + byteSize(cfg.sizes7[0]) + " payloads, 1 sender)",
		xTitle: "connected clients", yTitle: "server CPU per message (µs)",
	}
	for _, k := range cfg.clients7 {
		left.cats = append(left.cats, thousands(float64(k)))
	}
	right := panel{
		title:  "CPU per payload byte vs payload size (1 client)",
		xTitle: "payload size", yTitle: "server CPU per byte (ns, log scale)", logY: true,
	}
	for _, n := range cfg.sizes7 {
		right.cats = append(right.cats, byteSize(n))
	}
	for _, impl := range cfg.impls7 {
		l := series{impl: impl, valueFormat: "%.3f", band: -1}
		if impl == "lib" {
			l.band = 0
		}
		for _, k := range cfg.clients7 {
			pt := cfg.s7Point(runs, impl, cfg.s7Case(k, cfg.sizes7[0]))
			if !pt.have {
				pt.cpuMsg, pt.lo, pt.hi = math.NaN(), math.NaN(), math.NaN()
			}
			l.y, l.lo, l.hi = append(l.y, pt.cpuMsg), append(l.lo, pt.lo), append(l.hi, pt.hi)
		}
		left.lines = append(left.lines, l)
		r := series{impl: impl, valueFormat: "%.3g", band: -1}
		if impl == "lib" {
			r.band = slices.IndexFunc(cfg.sizes7, func(n int) bool { return n >= 1024 })
		}
		for _, n := range cfg.sizes7 {
			pt := cfg.s7Point(runs, impl, cfg.s7Case(1, n))
			v, lo, hi := math.NaN(), math.NaN(), math.NaN()
			if pt.have {
				scale := 1e3 / float64(n) // µs per message to ns per byte
				v, lo, hi = pt.perByte, pt.lo*scale, pt.hi*scale
			}
			r.y, r.lo, r.hi = append(r.y, v), append(r.lo, lo), append(r.hi, hi)
		}
		right.lines = append(right.lines, r)
	}

	const w, h = 960, 420
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="14" text-anchor="middle">scripts/bench S7: the server's CPU (medians; bars: min–max; shaded: the target, ±20%% around socketipc)</text>`+"\n", w/2)
	drawPanel(&b, left, 70, 50, 380, 300)
	drawPanel(&b, right, 550, 50, 380, 300)
	// Legend.
	x := 70
	for _, impl := range cfg.impls7 {
		fmt.Fprintf(&b, `<line x1="%d" y1="405" x2="%d" y2="405" stroke="%s" stroke-width="2.5"/>`, x, x+24, plotColors[impl])
		fmt.Fprintf(&b, `<text x="%d" y="409">%s</text>`+"\n", x+30, html.EscapeString(implNames[impl]))
		x += 230
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

func drawPanel(b *bytes.Buffer, p panel, x0, y0, pw, ph int) {
	// The y range: from 0 (linear) or the decade below the smallest value (log).
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, l := range p.lines {
		for i, v := range l.y {
			for _, x := range []float64{v, l.lo[i], l.hi[i]} {
				if !math.IsNaN(x) && x > 0 {
					lo, hi = math.Min(lo, x), math.Max(hi, x)
				}
			}
			if i == l.band && !math.IsNaN(v) {
				hi = math.Max(hi, v*1.2)
				lo = math.Min(lo, v*0.8)
			}
		}
	}
	if math.IsInf(lo, 0) {
		lo, hi = 1, 10
	}
	var ymap func(float64) float64
	var ticks []float64
	if p.logY {
		a, z := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
		if z == a {
			z++
		}
		ymap = func(v float64) float64 { return float64(y0+ph) - (math.Log10(v)-a)/(z-a)*float64(ph) }
		for d := a; d <= z; d++ {
			ticks = append(ticks, math.Pow(10, d))
		}
	} else {
		top := niceCeil(hi * 1.1)
		ymap = func(v float64) float64 { return float64(y0+ph) - v/top*float64(ph) }
		for i := range 5 {
			ticks = append(ticks, top*float64(i)/4)
		}
	}
	xmap := func(i int) float64 {
		return float64(x0) + (float64(i)+0.5)*float64(pw)/float64(len(p.cats))
	}

	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="13" text-anchor="middle">%s</text>`+"\n", x0+pw/2, y0-10, html.EscapeString(p.title))
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#444"/>`+"\n", x0, y0, pw, ph)
	for _, t := range ticks {
		y := ymap(t)
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`, x0, y, x0+pw, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", x0-5, y+4, strings.TrimSuffix(fmt.Sprintf("%.3g", t), ".0"))
	}
	for i, c := range p.cats {
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", xmap(i), y0+ph+16, html.EscapeString(c))
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", x0+pw/2, y0+ph+34, html.EscapeString(p.xTitle))
	fmt.Fprintf(b, `<text transform="translate(%d %d) rotate(-90)" text-anchor="middle">%s</text>`+"\n", x0-48, y0+ph/2, html.EscapeString(p.yTitle))

	for _, l := range p.lines {
		color := plotColors[l.impl]
		if l.band >= 0 && l.band < len(l.y) && !math.IsNaN(l.y[l.band]) {
			ya, yb := ymap(l.y[l.band]*1.2), ymap(l.y[l.band]*0.8)
			fmt.Fprintf(b, `<rect x="%d" y="%.1f" width="%d" height="%.1f" fill="%s" fill-opacity="0.12"/>`+"\n", x0, ya, pw, yb-ya, color)
		}
		var pts []string
		for i, v := range l.y {
			if math.IsNaN(v) || v <= 0 {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", xmap(i), ymap(v)))
			if !math.IsNaN(l.lo[i]) && l.lo[i] > 0 {
				fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`, xmap(i), ymap(l.lo[i]), xmap(i), ymap(l.hi[i]), color)
			}
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>`, xmap(i), ymap(v), color)
			fmt.Fprintf(b, `<text x="%.1f" y="%.1f" fill="%s">`+l.valueFormat+`</text>`+"\n", xmap(i)+6, ymap(v)-6, color, v)
		}
		if len(pts) > 1 {
			fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2.5"/>`+"\n", strings.Join(pts, " "), color)
		}
	}
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*e >= v {
			return m * e
		}
	}
	return 10 * e
}
