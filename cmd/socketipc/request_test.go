package main

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/server"
)

type sumReq struct{ A, B int }

// request prints the reply of a Go server's handler as one JSON line and
// exits 0; a failure reply (the handler's error, no handler) is exit 1 with
// its text on stderr.
func TestRequest(t *testing.T) {
	sock := testsock.Path(t)
	g := startGoServer(t, sock, false, false)
	server.Handle(g.srv, "add", func(_ context.Context, r sumReq, _ string) (map[string]any, error) {
		return map[string]any{"sum": r.A + r.B, "note": "<ok>\nfine"}, nil
	})
	server.Handle(g.srv, "fail", func(_ context.Context, _ any, _ string) (any, error) {
		return nil, errors.New("disk full")
	})
	for _, tc := range []struct {
		name, stdin    string
		args           []string
		code           int
		stdout, stderr string
	}{
		{"argument", "", []string{"add", `{"A": 2, "B": 40}`}, exitOK, `{"note":"<ok>\nfine","sum":42}` + "\n", ""},
		{"stdin", `{"A":1,` + "\n" + `"B":1}`, []string{"add"}, exitOK, `{"note":"<ok>\nfine","sum":2}` + "\n", ""},
		{"remote error", "", []string{"fail", "null"}, exitFailure, "", `socketipc request: the server answered "fail" with an error: disk full` + "\n"},
		{"no handler", "", []string{"nope", "1"}, exitFailure, "", `socketipc request: the server answered "nope" with an error: no handler for request topic "nope"` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runTool(t, strings.NewReader(tc.stdin), append([]string{"request", sock}, tc.args...)...)
			if code != tc.code || stdout != tc.stdout || stderr != tc.stderr {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d, %q, %q", code, stdout, stderr, tc.code, tc.stdout, tc.stderr)
			}
		})
	}
	if code, _, stderr := runTool(t, nil, "request", sock, "add", "{bad"); code != exitUsage || !strings.Contains(stderr, "not valid JSON") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// A server that never answers: request exits 1 after --timeout, saying so.
func TestRequestTimeout(t *testing.T) {
	sock := testsock.Path(t)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { nc.Close() }) // held open, never answered
		}
	}()
	code, stdout, stderr := runTool(t, nil, "request", sock, "slow", "1", "--timeout", "300ms")
	if code != exitFailure || stdout != "" || stderr != "socketipc request: no reply to \"slow\" within 300ms\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
