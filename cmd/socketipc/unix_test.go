//go:build unix

package main

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/socketipc/socketipc/internal/testkit/testsock"
)

// An interrupt ends listen cleanly: exit 0 (1 when --count was not
// reached), the socket file removed.
func TestListenInterrupt(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{nil, exitOK},
		{[]string{"--count", "2"}, exitFailure},
	} {
		sock := testsock.Path(t)
		p := start(t, nil, append([]string{"listen", sock, "-v"}, tc.args...)...)
		p.stderr.waitFor(t, "listening on")
		c := startGoClient(t, sock, false)
		c.send(t, "x", 1)
		p.stdout.next(t)
		if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		p.expectExit(tc.code)
		if _, err := os.Stat(sock); !os.IsNotExist(err) {
			t.Errorf("%v: the socket file is still there: %v", tc.args, err)
		}
		if tc.code == exitFailure {
			p.stderr.waitFor(t, "interrupted: 1 of 2 message(s) arrived")
		}
	}
}

// --mode sets the socket file's permission bits.
func TestListenMode(t *testing.T) {
	sock := testsock.Path(t)
	p := start(t, nil, "listen", sock, "--mode", "0600", "--count", "1", "-v")
	p.stderr.waitFor(t, "listening on")
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("socket file mode %v, want a socket with 0600", fi.Mode())
	}
	startGoClient(t, sock, false).send(t, "x", 1)
	p.expectExit(exitOK)
}

// A socket file that a live server holds is not taken over: exit 1.
func TestListenSocketInUse(t *testing.T) {
	sock := testsock.Path(t)
	startGoServer(t, sock, false, false)
	code, stdout, stderr := runTool(t, nil, "listen", sock)
	if code != exitFailure || stdout != "" || !strings.Contains(stderr, "socketipc listen: ") || !strings.Contains(stderr, sock) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	t.Logf("stderr: %s", stderr)
}

// A reader of stdout that goes away (listen | head -1) ends listen with
// exit 1, its socket file removed, rather than killing it.
func TestListenStdoutClosed(t *testing.T) {
	sock := testsock.Path(t)
	cmd := exec.Command(tool, "listen", sock)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	c := startGoClient(t, sock, false)
	c.send(t, "first", 1)
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.Contains(line, `"topic":"first"`) {
		t.Fatalf("read %q, %v", line, err)
	}
	out.Close() // no reader left: the next line can't be written
	c.send(t, "second", 2)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-exited:
	case <-time.After(wait):
		t.Fatalf("listen did not exit within %v", wait)
	}
	if code := cmd.ProcessState.ExitCode(); code != exitFailure || !strings.Contains(stderr.String(), "broken pipe") {
		t.Fatalf("exit %d (%v), stderr %q", code, cmd.ProcessState, stderr.String())
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("the socket file is still there: %v", err)
	}
}
