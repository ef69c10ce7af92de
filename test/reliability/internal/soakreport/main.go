// Command soakreport turns the result lines of the reliability tests (the
// JSON of their "SOAK" lines, one per line, in the file they append to when
// SOCKETIPC_SOAK_RESULTS is set) into a Markdown summary: a table of each
// scenario's messages sent, received, lost and duplicated, peak memory and
// duration, the details of each, and the machine and command that produced
// them. It prints the summary and, with -doc, writes it into that file
// between the markers <!-- soak:start --> and <!-- soak:end -->.
//
// scripts/soak runs it; it is not meant to be run by hand.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
)

const (
	startMarker = "<!-- soak:start -->"
	endMarker   = "<!-- soak:end -->"
)

// result mirrors the result lines written by the reliability tests.
type result struct {
	Scenario   string  `json:"scenario"`
	Form       string  `json:"form"`
	Race       bool    `json:"race"`
	Sent       int64   `json:"sent"`
	Received   int64   `json:"received"`
	Lost       int64   `json:"lost"`
	Duplicated int64   `json:"duplicated"`
	PeakMem    uint64  `json:"peak_mem"`
	MemKind    string  `json:"mem_kind"`
	Seconds    float64 `json:"seconds"`
	Notes      string  `json:"notes"`
}

func main() {
	resultsPath := flag.String("results", "", "file of result lines (JSON, one per line)")
	doc := flag.String("doc", "", "Markdown file to update between the soak markers")
	command := flag.String("cmd", "", "the command that produced the results")
	machine := flag.String("machine", "", "a description of the machine")
	date := flag.String("date", "", "when the results were produced")
	wall := flag.Float64("seconds", 0, "wall time of the whole run")
	flag.Parse()

	results, err := read(*resultsPath)
	if err != nil {
		fail(err)
	}
	if len(results) == 0 {
		fail(errors.New("no results: did the tests run?"))
	}
	summary := render(results, *command, *machine, *date, *wall)
	fmt.Print(summary)
	if *doc != "" {
		if err := update(*doc, summary); err != nil {
			fail(err)
		}
		fmt.Printf("\nwritten to %s\n", *doc)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "soakreport:", err)
	os.Exit(1)
}

func read(path string) ([]result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []result
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var r result
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, fmt.Errorf("%s: %w: %s", path, err, line)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

func render(results []result, command, machine, date string, wall float64) string {
	var b strings.Builder
	forms := map[string]bool{}
	race := false
	for _, r := range results {
		forms[r.Form] = true
		race = race || r.Race
	}
	form := strings.Join(keys(forms), "+")
	if race {
		form += ", race detector on"
	}
	fmt.Fprintf(&b, "Form: %s. Date: %s.\n\n", form, date)
	fmt.Fprintf(&b, "Machine: %s.\n\n", machine)
	fmt.Fprintf(&b, "Command: `%s`", command)
	if wall > 0 {
		fmt.Fprintf(&b, " (%.0f s in all, builds included)", wall)
	}
	b.WriteString(".\n\n")
	b.WriteString("| scenario | sent | received | lost | duplicated | peak memory | measured as | duration |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|---|--:|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %.1f MiB | %s | %.1f s |\n",
			r.Scenario, count(r.Sent), count(r.Received), count(r.Lost), count(r.Duplicated),
			float64(r.PeakMem)/(1<<20), r.MemKind, r.Seconds)
	}
	b.WriteString("\n")
	for _, r := range results {
		fmt.Fprintf(&b, "- **%s**: %s.\n", r.Scenario, r.Notes)
	}
	return b.String()
}

func keys(m map[string]bool) []string {
	var out []string
	for _, k := range []string{"short", "long"} {
		if m[k] {
			out = append(out, k)
		}
	}
	return out
}

// count writes n with thousands separators.
func count(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// update replaces what is between the markers in path with summary.
func update(path, summary string) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	text := string(old)
	i := strings.Index(text, startMarker)
	j := strings.Index(text, endMarker)
	if i < 0 || j < i {
		return fmt.Errorf("%s: no %s ... %s markers", path, startMarker, endMarker)
	}
	text = text[:i+len(startMarker)] + "\n" + summary + text[j:]
	return os.WriteFile(path, []byte(text), 0o644)
}
