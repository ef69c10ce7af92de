package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// runInProcess calls run as main would, without a process.
func runInProcess(stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// A wrong command line exits 2 with a message on stderr that names the
// command and how to get help, and prints nothing on stdout.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "Usage:"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"help", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"listen"}, "want one SOCKET, got 0 operands"},
		{[]string{"listen", "a.sock", "b.sock"}, "want one SOCKET, got 2 operands"},
		{[]string{"listen", "--count", "-1", "a.sock"}, `invalid value "-1" for flag -count`},
		{[]string{"listen", "--count", "many", "a.sock"}, `invalid value "many" for flag -count`},
		{[]string{"listen", "--timeout", "5", "a.sock"}, `invalid value "5" for flag -timeout`},
		{[]string{"listen", "--mode", "rw", "a.sock"}, `invalid value "rw" for flag -mode`},
		{[]string{"listen", "--mode", "1777", "a.sock"}, `invalid value "1777" for flag -mode`},
		{[]string{"listen", "--frobnicate", "a.sock"}, "flag provided but not defined: -frobnicate"},
		{[]string{"listen", ""}, "socket"},
		{[]string{"send", "a.sock"}, "want SOCKET TOPIC [JSON], got 1 operands"},
		{[]string{"send", "a.sock", "t", "1", "2"}, "want SOCKET TOPIC [JSON], got 4 operands"},
		{[]string{"send", "a.sock", "", "1"}, "TOPIC is empty"},
		{[]string{"send", "a.sock", "t", "{'a': 1}"}, "the message is not valid JSON: invalid character '\\''"},
		{[]string{"send", "a.sock", "t", "1 2"}, "the message is not valid JSON: invalid character '2' after top-level value"},
		{[]string{"send", "a.sock", "t", "-"}, "the message is not valid JSON: unexpected end of JSON input"},
		{[]string{"send", "a.sock", "t"}, "the message is not valid JSON: unexpected end of JSON input"},
		{[]string{"send", "--raw", "a.sock", "t", "1"}, "flag provided but not defined: -raw"},
		{[]string{"connect"}, "want one SOCKET, got 0 operands"},
		{[]string{"connect", "--count", "x", "a.sock"}, `invalid value "x" for flag -count`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := runInProcess("", tc.args...)
			if code != exitUsage {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, exitUsage, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout is not empty:\n%s", stdout)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr does not say %q:\n%s", tc.want, stderr)
			}
			if len(tc.args) > 0 && !strings.Contains(stderr, "--help' for usage") && !strings.Contains(stderr, "Usage:") {
				t.Errorf("stderr does not say how to get help:\n%s", stderr)
			}
		})
	}
}

// --help, -h and "help COMMAND" print the usage on stdout and exit 0; each
// command's usage names its flags.
func TestHelp(t *testing.T) {
	flagsOf := map[string][]string{
		"":        {"listen", "send", "connect", "Exit status"},
		"listen":  {"--count", "--timeout", "--legacy", "--raw", "--mode", "--verbose", "Exit status"},
		"send":    {"--timeout", "--legacy", "--verbose", "Exit status"},
		"connect": {"--count", "--timeout", "--legacy", "--raw", "--verbose", "Exit status"},
	}
	for cmd, want := range flagsOf {
		var forms [][]string
		if cmd == "" {
			forms = [][]string{{"--help"}, {"-h"}, {"help"}}
		} else {
			forms = [][]string{{cmd, "--help"}, {cmd, "-h"}, {"help", cmd}, {cmd, "a.sock", "--help"}}
		}
		for _, args := range forms {
			code, stdout, stderr := runInProcess("", args...)
			if code != exitOK || stderr != "" {
				t.Errorf("%v: exit status %d, stderr %q; want 0 and nothing", args, code, stderr)
			}
			if !strings.HasPrefix(stdout, "Usage: socketipc "+cmd) && !strings.Contains(stdout, "\nUsage:\n") {
				t.Errorf("%v: stdout is not the usage:\n%s", args, stdout)
			}
			for _, w := range want {
				if !strings.Contains(stdout, w) {
					t.Errorf("%v: the usage does not mention %s:\n%s", args, w, stdout)
				}
			}
		}
	}
}

// The built binary behaves as run does: a usage error exits 2.
func TestBinaryUsageError(t *testing.T) {
	code, stdout, stderr := runTool(t, nil, "send", "x.sock", "topic", "{nope")
	if code != exitUsage || stdout != "" || !strings.Contains(stderr, "socketipc send: the message is not valid JSON") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
