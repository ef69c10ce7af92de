package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// term is the program's stdin, stdout and stderr. Messages go to stdout
// (written by one goroutine at a time: a server's or client's listeners);
// errors and notices go to stderr, from any goroutine, one whole line per
// write.
type term struct {
	prefix string // "socketipc listen": starts every stderr line
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer

	mu     *sync.Mutex
	recent *[]string // the last errors printed, to print an error once
}

func newTerm(prefix string, stdin io.Reader, stdout, stderr io.Writer) *term {
	return &term{prefix: prefix, stdin: stdin, stdout: stdout, stderr: stderr,
		mu: new(sync.Mutex), recent: new([]string)}
}

// sub is t for a subcommand: its name joins the prefix.
func (t *term) sub(name string) *term {
	s := *t
	s.prefix += " " + name
	return &s
}

func (t *term) write(w io.Writer, text string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	io.WriteString(w, text)
}

// errorf prints one error line on stderr. The library both returns and
// emits the error of a failing call, and the tool reports both ways, so
// a line is not repeated when it is one of the last few printed.
func (t *term) errorf(format string, args ...any) {
	line := fmt.Sprintf("%s: %s\n", t.prefix, fmt.Sprintf(format, args...))
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range *t.recent {
		if r == line {
			return
		}
	}
	if *t.recent = append(*t.recent, line); len(*t.recent) > 4 {
		*t.recent = (*t.recent)[1:]
	}
	io.WriteString(t.stderr, line)
}

// error prints err; the library's "socketipc: " prefix is dropped, the
// line has one already.
func (t *term) error(err error) {
	t.errorf("%s", strings.TrimPrefix(err.Error(), "socketipc: "))
}

// notef prints a notice (--verbose) on stderr.
func (t *term) notef(format string, args ...any) {
	t.write(t.stderr, fmt.Sprintf("%s: %s\n", t.prefix, fmt.Sprintf(format, args...)))
}

// usageError reports a wrong command line and returns exitUsage.
func (t *term) usageError(format string, args ...any) int {
	t.write(t.stderr, fmt.Sprintf("%s: %s\nRun '%s --help' for usage.\n",
		t.prefix, fmt.Sprintf(format, args...), t.prefix))
	return exitUsage
}

// startFailed reports why a server or client could not start: a usage
// error for an unusable SOCKET, else a failure.
func (t *term) startFailed(err error) int {
	if isBadSocketPath(err) {
		return t.usageError("%v", err)
	}
	t.error(err)
	return exitFailure
}

// flags is a subcommand's flag set, with the flags the subcommands share.
type flags struct {
	*flag.FlagSet
	usage string

	count   countFlag    // --count, where receiving ends after N messages
	timeout durationFlag // --timeout
	legacy  bool         // --legacy
	raw     bool         // --raw, with --count
	verbose bool         // -v, --verbose
}

// newFlags makes the flag set of a subcommand: --timeout (default
// timeout), --legacy and -v/--verbose, and with receives, --count and --raw.
func newFlags(name, usage string, timeout time.Duration, receives bool) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by parse, help is usage
	f := &flags{FlagSet: fs, usage: usage, timeout: durationFlag(timeout)}
	f.Var(&f.timeout, "timeout", "")
	f.BoolVar(&f.legacy, "legacy", false, "")
	f.BoolVar(&f.verbose, "verbose", false, "")
	f.BoolVar(&f.verbose, "v", false, "")
	if receives {
		f.Var(&f.count, "count", "")
		f.BoolVar(&f.raw, "raw", false, "")
	}
	return f
}

// parse parses args, flags and operands in any order ("--" ends the
// flags; "-" is an operand), and returns the operands. With --help it
// prints the usage on stdout; on a bad flag it reports it; either way it
// returns the exit status to end with (ok false).
func (f *flags) parse(t *term, args []string) (operands []string, code int, ok bool) {
	for {
		err := f.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			t.write(t.stdout, f.usage)
			return nil, exitOK, false
		}
		if err != nil {
			return nil, t.usageError("%v", err), false
		}
		rest := f.Args()
		if stopped := len(args) - len(rest); stopped > 0 && args[stopped-1] == "--" {
			return append(operands, rest...), 0, true
		}
		if len(rest) == 0 {
			return operands, 0, true
		}
		operands = append(operands, rest[0])
		args = rest[1:]
	}
}

// countFlag is a number of messages: 0 (no limit) or more.
type countFlag int

func (c *countFlag) String() string { return strconv.Itoa(int(*c)) }
func (c *countFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return errors.New("want a whole number, 0 or more")
	}
	*c = countFlag(n)
	return nil
}

// durationFlag is a time.Duration that is 0 (no limit) or more.
type durationFlag time.Duration

func (d *durationFlag) String() string { return time.Duration(*d).String() }
func (d *durationFlag) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return errors.New("want a duration such as 500ms, 5s or 2m, 0 or more")
	}
	*d = durationFlag(v)
	return nil
}

// modeFlag is permission bits in octal, as chmod takes them.
type modeFlag uint32

func (m *modeFlag) String() string { return fmt.Sprintf("%#o", uint32(*m)) }
func (m *modeFlag) Set(s string) error {
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "0o"), 8, 32)
	if err != nil || v == 0 || v > 0o777 {
		return errors.New("want octal permission bits such as 0600 or 0660")
	}
	*m = modeFlag(v)
	return nil
}

// deadline is a channel that fires after d, or never when d is 0.
func deadline(d time.Duration) (<-chan time.Time, func()) {
	if d <= 0 {
		return nil, func() {}
	}
	timer := time.NewTimer(d)
	return timer.C, func() { timer.Stop() }
}
