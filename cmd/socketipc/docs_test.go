//go:build unix

package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/socketipc/socketipc/internal/testkit/testsock"
)

// docsSection is where docs/USAGE.md shows the tool at work.
const docsSection = "## The `socketipc` command"

// session is one shell session of the docs: its commands, and the output
// they print (stdout and stderr together, in order).
type session struct {
	commands []string
	output   []string
}

// docsSessions reads the "$ "-prompted sh blocks of the section.
func docsSessions(t *testing.T) []session {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "docs", "USAGE.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		sessions          []session
		cur               *session
		inSection, inCode bool
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			inSection = line == docsSection
		case !inSection:
		case line == "```sh":
			inCode, cur = true, &session{}
		case line == "```" && inCode:
			if len(cur.commands) > 0 && strings.HasPrefix(cur.commands[0], "socketipc ") || len(cur.commands) > 1 {
				sessions = append(sessions, *cur)
			}
			inCode = false
		case inCode && strings.HasPrefix(line, "$ "):
			cur.commands = append(cur.commands, strings.TrimPrefix(line, "$ "))
		case inCode && len(cur.commands) > 0:
			cur.output = append(cur.output, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return sessions
}

var clientIDs = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`)

// The shell sessions of docs/USAGE.md ("The socketipc command") print what
// the docs say, run by sh with the built tool first on PATH and a
// temporary socket instead of /tmp/app.sock.
func TestDocsSessions(t *testing.T) {
	sessions := docsSessions(t)
	if len(sessions) != 4 {
		t.Fatalf("found %d sessions in %q of docs/USAGE.md, want 4", len(sessions), docsSection)
	}
	for i, s := range sessions {
		sock := testsock.Path(t)
		script := strings.ReplaceAll(strings.Join(s.commands, "\n"), "/tmp/app.sock", sock) + "\nwait\n"
		sh := exec.Command("sh", "-c", script)
		sh.Env = append(os.Environ(), "PATH="+filepath.Dir(tool)+string(os.PathListSeparator)+os.Getenv("PATH"))
		out, err := sh.CombinedOutput()
		if err != nil {
			t.Errorf("session %d: %v", i+1, err)
		}
		got := clientIDs.ReplaceAllString(strings.TrimSuffix(string(out), "\n"), "<id>")
		want := clientIDs.ReplaceAllString(strings.ReplaceAll(strings.Join(s.output, "\n"), "/tmp/app.sock", sock), "<id>")
		if got != want {
			t.Errorf("session %d printed:\n%s\nthe docs say:\n%s", i+1, got, want)
		}
	}
}
