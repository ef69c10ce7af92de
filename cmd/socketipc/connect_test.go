package main

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/socketipc/socketipc/internal/testkit/testsock"
)

// connect sends each stdin line as a message and prints each message the
// server sends, until --count messages have arrived.
func TestConnectConversation(t *testing.T) {
	sock := testsock.Path(t)
	srv := startGoServer(t, sock, false, true)
	p := startPiped(t, "connect", sock, "--count", "3")
	lines := []string{
		`{"topic":"hello","message":{"name": "gopher"}}`,
		`  {"message":[1,2],"topic":"numbers"}  `,
		``,
		`{"topic":"nothing"}`,
	}
	for _, l := range lines {
		io.WriteString(p.stdin, l+"\n")
	}
	want := []string{
		`{"topic":"echo.hello","message":{"name":"gopher"}}`,
		`{"topic":"echo.numbers","message":[1,2]}`,
		`{"topic":"echo.nothing","message":null}`,
	}
	for _, w := range want {
		if got := p.stdout.next(t); got != w {
			t.Errorf("printed %s, want %s", got, w)
		}
	}
	p.expectExit(exitOK) // stdin is still open: --count ended it
	for _, topic := range []string{"hello", "numbers", "nothing"} {
		if m := next(t, srv.messages); m.topic != topic {
			t.Errorf("the server got %s, want %s", m.topic, topic)
		}
	}
	if p.stderr.text() != "" {
		t.Errorf("stderr: %s", p.stderr.text())
	}
}

// Without --count, the end of stdin ends the session once everything is
// written: every line reaches the server, in order.
func TestConnectEndOfInput(t *testing.T) {
	sock := testsock.Path(t)
	srv := startGoServer(t, sock, false, false)
	const n = 20000
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, `{"topic":"n","message":%d}`+"\n", i)
	}
	code, stdout, stderr := runTool(t, strings.NewReader(in.String()), "connect", sock)
	if code != exitOK || stdout != "" || stderr != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for i := range n {
		if m := next(t, srv.messages); m.raw != fmt.Sprint(i) {
			t.Fatalf("message %d is %s", i, m.raw)
		}
	}
}

// A line that is not a message is reported with its number and skipped;
// the others are sent, and the exit status is 1.
func TestConnectBadLines(t *testing.T) {
	sock := testsock.Path(t)
	srv := startGoServer(t, sock, false, false)
	in := strings.Join([]string{
		`{"topic":"first","message":1}`,
		`{"topic":"first",`,
		`[1,2]`,
		`{"topic":"","message":1}`,
		`{"topic":7}`,
		`{"topic":"x","msg":1}`,
		`{"topic":"last","message":2}`,
	}, "\n")
	code, stdout, stderr := runTool(t, strings.NewReader(in), "connect", sock)
	if code != exitFailure || stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	want := []string{
		"socketipc connect: stdin line 2: not valid JSON: unexpected end of JSON input; skipped",
		`socketipc connect: stdin line 3: not a JSON object; want {"topic":"...","message":...}; skipped`,
		`socketipc connect: stdin line 4: "topic" must be a non-empty string; skipped`,
		`socketipc connect: stdin line 5: "topic" must be a non-empty string; skipped`,
		`socketipc connect: stdin line 6: unknown field "msg"; want {"topic":"...","message":...}; skipped`,
	}
	if got := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr, strings.Join(want, "\n"))
	}
	if a, b := next(t, srv.messages), next(t, srv.messages); a.topic != "first" || b.topic != "last" {
		t.Errorf("the server got %+v, %+v", a, b)
	}
}

// A server that ends the connection ends the session with exit 1.
func TestConnectServerLeaves(t *testing.T) {
	sock := testsock.Path(t)
	srv := startGoServer(t, sock, false, false)
	p := startPiped(t, "connect", sock)
	nextID(t, srv.clients)
	srv.srv.Close()
	p.expectExit(exitFailure)
	p.stderr.waitFor(t, "socketipc connect: the server ended the connection")
}

// --timeout: no server, or --count not reached in time, is exit 1.
func TestConnectTimeout(t *testing.T) {
	t.Run("no server", func(t *testing.T) {
		sock := testsock.Path(t)
		code, _, stderr := runTool(t, nil, "connect", sock, "--timeout", "200ms")
		if code != exitFailure || !strings.Contains(stderr, "no server accepted a connection to "+sock+" within 200ms") {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("count", func(t *testing.T) {
		sock := testsock.Path(t)
		startGoServer(t, sock, false, true)
		code, stdout, stderr := runTool(t, strings.NewReader(`{"topic":"a","message":1}`), "connect", sock, "--count", "2", "--timeout", "1s")
		if code != exitFailure || stdout != `{"topic":"echo.a","message":1}`+"\n" ||
			!strings.Contains(stderr, "timed out after 1s: 1 of 2 message(s) arrived") {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})
}

// --raw prints the frames the server sends as they are; --legacy talks
// "%EOM%" framing.
func TestConnectRawLegacy(t *testing.T) {
	sock := testsock.Path(t)
	srv := startGoServer(t, sock, true, false)
	p := startPiped(t, "connect", sock, "--raw", "--legacy", "--count", "1")
	id := nextID(t, srv.clients)
	if err := srv.srv.Send("hi", map[string]any{"a": []int{1}}, id); err != nil {
		t.Fatal(err)
	}
	if got := p.stdout.next(t); got != `{"topic":"hi","message":{"a":[1]}}` {
		t.Errorf("printed %s", got)
	}
	p.expectExit(exitOK)
}
