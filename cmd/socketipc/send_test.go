package main

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/socketipc/socketipc/internal/testkit/testsock"
)

// send delivers one message, from its argument or from stdin, prints
// nothing and exits 0.
func TestSend(t *testing.T) {
	sock := testsock.Path(t)
	srv := startGoServer(t, sock, false, false)
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"argument", "", []string{"greeting", `{"name": "gopher", "tags": ["<a>"]}`}, `{"name":"gopher","tags":["<a>"]}`},
		{"stdin", "[1, 2,\n 3]\n", []string{"numbers"}, `[1,2,3]`},
		{"dash", `"é 日本 🙂"`, []string{"text", "-"}, `"é 日本 🙂"`},
		{"negative after --", "", []string{"number", "--", "-1.5e3"}, `-1.5e3`},
		{"flags last", "", []string{"flags", "null", "--timeout", "3s"}, `null`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runTool(t, strings.NewReader(tc.stdin), append([]string{"send", sock}, tc.args...)...)
			if code != exitOK || stdout != "" || stderr != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
			m := next(t, srv.messages)
			if m.topic != tc.args[0] || m.raw != tc.want {
				t.Fatalf("the server got %s %s, want %s %s", m.topic, m.raw, tc.args[0], tc.want)
			}
		})
	}
}

// With no server, send tries until --timeout, then exits 1 saying why.
func TestSendNoServer(t *testing.T) {
	sock := testsock.Path(t)
	code, stdout, stderr := runTool(t, nil, "send", sock, "t", "1", "--timeout", "300ms")
	want := "socketipc send: no server accepted a connection to " + sock + " within 300ms; the last attempt failed: dial unix " + sock
	if code != exitFailure || stdout != "" || !strings.HasPrefix(stderr, want) || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("exit %d, stdout %q, stderr %q; want stderr %q...", code, stdout, stderr, want)
	}
}

// A server that starts after send does is reached within --timeout.
func TestSendWaitsForServer(t *testing.T) {
	sock := testsock.Path(t)
	p := start(t, nil, "send", sock, "late", `"hello"`, "--timeout", "20s", "-v")
	p.stderr.waitFor(t, "connection attempt failed")
	srv := startGoServer(t, sock, false, false)
	p.expectExit(exitOK)
	if m := next(t, srv.messages); m.topic != "late" || m.raw != `"hello"` {
		t.Fatalf("got %+v", m)
	}
}

// --legacy talks to a server that expects "%EOM%" framing.
func TestSendLegacy(t *testing.T) {
	sock := testsock.Path(t)
	srv := startGoServer(t, sock, true, false)
	if code, _, stderr := runTool(t, nil, "send", "--legacy", sock, "old", `{"a":1}`); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if m := next(t, srv.messages); m.topic != "old" || m.raw != `{"a":1}` {
		t.Fatalf("got %+v", m)
	}
}

// Exit 0 means written: a server that accepts but never reads makes a
// message larger than the socket's buffers fail to be written within
// --timeout, and send exits 1 saying so.
func TestSendNotWritten(t *testing.T) {
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
			t.Cleanup(func() { nc.Close() }) // held open, never read
		}
	}()
	big := `"` + strings.Repeat("x", 8<<20) + `"`
	start := time.Now()
	code, stdout, stderr := runTool(t, strings.NewReader(big), "send", sock, "big", "--timeout", "1s")
	if code != exitFailure || stdout != "" || !strings.Contains(stderr, "queued bytes were not written") ||
		strings.Count(stderr, "\n") != 1 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	t.Logf("%v: %s", time.Since(start), stderr)
}
