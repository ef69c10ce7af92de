package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/socketipc/socketipc/internal/testkit/testsock"
)

// listen prints one line per message, from every client, in the order each
// client sent them, with the payload as it was sent, and exits 0 after
// --count messages, removing its socket file.
func TestListenPrintsMessages(t *testing.T) {
	sock := testsock.Path(t)
	p := start(t, nil, "listen", sock, "--count", "5", "-v")
	p.stderr.waitFor(t, "listening on "+sock)
	a := startGoClient(t, sock, false)
	b := startGoClient(t, sock, false)
	payloads := []string{`{"name":"gopher","tags":["a","<b>"],"n":1.50}`, `"é 日本 🙂 \u2028"`, `null`}
	for _, pl := range payloads {
		a.send(t, "from.a", json.RawMessage(pl))
	}
	var got []printed
	for range 3 {
		got = append(got, parsePrinted(t, p.stdout.next(t)))
	}
	b.send(t, "from b", []int{1, 2})
	b.send(t, "from b", map[string]any{})
	for range 2 {
		got = append(got, parsePrinted(t, p.stdout.next(t)))
	}
	p.expectExit(exitOK)
	for i, pl := range payloads {
		if got[i].Topic != "from.a" || string(got[i].Message) != pl {
			t.Errorf("line %d: topic %q message %s; want from.a %s", i, got[i].Topic, got[i].Message, pl)
		}
	}
	if got[3].Topic != "from b" || string(got[3].Message) != "[1,2]" || string(got[4].Message) != "{}" {
		t.Errorf("lines 3, 4: %+v, %+v", got[3], got[4])
	}
	if got[0].ClientID == "" || got[0].ClientID != got[2].ClientID || got[3].ClientID == got[0].ClientID || got[3].ClientID != got[4].ClientID {
		t.Errorf("client ids: %q %q %q %q %q", got[0].ClientID, got[1].ClientID, got[2].ClientID, got[3].ClientID, got[4].ClientID)
	}
	if strings.Contains(p.stdout.text(), `\u003c`) {
		t.Errorf("HTML escaped: %s", p.stdout.text())
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("the socket file is still there after listen exited: %v", err)
	}
}

// --timeout: exit 1 when fewer than --count (or, without it, no) messages
// arrived; exit 0 when enough did.
func TestListenTimeout(t *testing.T) {
	t.Run("nothing", func(t *testing.T) {
		code, stdout, stderr := runTool(t, nil, "listen", testsock.Path(t), "--timeout", "200ms")
		if code != exitFailure || stdout != "" || !strings.Contains(stderr, "timed out after 200ms: 0 of 1 message(s) arrived") {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})
	t.Run("not enough", func(t *testing.T) {
		sock := testsock.Path(t)
		p := start(t, nil, "listen", sock, "--timeout", "2s", "--count", "3")
		c := startGoClient(t, sock, false)
		c.send(t, "one", 1)
		c.send(t, "two", 2)
		p.expectExit(exitFailure)
		if n := strings.Count(p.stdout.text(), "\n"); n != 2 {
			t.Errorf("%d lines printed, want 2:\n%s", n, p.stdout.text())
		}
		p.stderr.waitFor(t, "socketipc listen: timed out after 2s: 2 of 3 message(s) arrived")
	})
	t.Run("enough", func(t *testing.T) {
		sock := testsock.Path(t)
		p := start(t, nil, "listen", sock, "--timeout", "2s")
		c := startGoClient(t, sock, false)
		c.send(t, "one", 1)
		p.stdout.next(t) // it arrived before the timeout
		p.expectExit(exitOK)
		if p.stderr.text() != "" {
			t.Errorf("stderr: %s", p.stderr.text())
		}
	})
}

// --raw prints each frame as it arrived, even one that is not a message;
// without it, a malformed frame is reported on stderr and listening goes on.
func TestListenRaw(t *testing.T) {
	for _, raw := range []bool{true, false} {
		t.Run(fmt.Sprint("raw=", raw), func(t *testing.T) {
			sock := testsock.Path(t)
			args := []string{"listen", sock, "--count", "2"}
			if raw {
				args = append(args, "--raw")
			}
			p := start(t, nil, args...)
			c := rawPeer(t, sock)
			c.write(t, `{"topic":"a","message":{"x": 1}}`+"\x00\x00")
			c.write(t, `not json`+"\x00\x00")
			c.write(t, `{"message":2,"topic":"b"}`+"\x00\x00")
			p.expectExit(exitOK)
			want := `{"topic":"a","message":{"x": 1}}` + "\nnot json\n"
			if !raw {
				want = fmt.Sprintf(`{"clientId":%q,"topic":"a","message":{"x": 1}}`+"\n"+`{"clientId":%q,"topic":"b","message":2}`+"\n",
					parsePrinted(t, p.stdout.next(t)).ClientID, parsePrinted(t, p.stdout.next(t)).ClientID)
				p.stderr.waitFor(t, "not json")
			}
			if got := p.stdout.text(); got != want {
				t.Errorf("stdout:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// --legacy: frames end with %EOM%, as socket-ipc before 0.4 writes them.
func TestListenLegacy(t *testing.T) {
	sock := testsock.Path(t)
	p := start(t, nil, "listen", sock, "--legacy", "--count", "2")
	c := startGoClient(t, sock, true)
	c.send(t, "old", "school")
	first := parsePrinted(t, p.stdout.next(t))
	raw := rawPeer(t, sock)
	raw.write(t, `{"topic":"older","message":[1]}%EOM%`)
	second := parsePrinted(t, p.stdout.next(t))
	p.expectExit(exitOK)
	if first.Topic != "old" || string(first.Message) != `"school"` || second.Topic != "older" || string(second.Message) != "[1]" {
		t.Fatalf("got %+v and %+v", first, second)
	}
}
