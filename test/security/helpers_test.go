//go:build unix

package security

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/socketipc/socketipc/emitter"
	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/stretchr/testify/require"
)

// nobody is the unprivileged user the helper runs as when the tests are root.
const nobody = 65534

var (
	helperDir  string // holds the helper binary; world-readable
	helperOnce sync.Once
	helperBin  string
	helperErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if helperDir != "" {
		os.RemoveAll(helperDir)
	}
	os.Exit(code)
}

// helper builds testdata/peer once per test binary and returns its path.
func helper(t *testing.T) string {
	t.Helper()
	helperOnce.Do(func() {
		goBin, err := exec.LookPath("go") // go test puts its own GOROOT/bin first on PATH
		if err != nil {
			helperErr = fmt.Errorf("the go command is needed to build testdata/peer: %w", err)
			return
		}
		helperDir, helperErr = os.MkdirTemp("", "sipc-peer")
		if helperErr != nil {
			return
		}
		// Another user must be able to run it.
		if helperErr = os.Chmod(helperDir, 0o755); helperErr != nil {
			return
		}
		bin := filepath.Join(helperDir, "peer")
		out, err := exec.Command(goBin, "build", "-buildvcs=false", "-o", bin, "./testdata/peer").CombinedOutput()
		if err != nil {
			helperErr = fmt.Errorf("go build ./testdata/peer: %w\n%s", err, out)
			return
		}
		helperBin = bin
	})
	if helperErr != nil {
		t.Fatal(helperErr)
	}
	return helperBin
}

// needRoot skips a test that has to run a process as another user.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a helper as another user (uid 65534); " +
			"the in-process tests (server TestAllowPeer) cover the decision")
	}
}

// report is one line of the helper's output (see testdata/peer).
type report struct {
	Event string          `json:"event"`
	ID    string          `json:"id"`
	Topic string          `json:"topic"`
	Msg   json.RawMessage `json:"msg"`
	Err   string          `json:"err"`
	Errno string          `json:"errno"`
	Cred  *cred           `json:"cred"`
	Self  cred            `json:"self"`
}

type cred struct {
	PID int32  `json:"pid"`
	UID uint32 `json:"uid"`
	GID uint32 `json:"gid"`
}

func (r report) String() string { b, _ := json.Marshal(r); return string(b) }

// proc is a running helper.
type proc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	log    *eventlog.Log // its reports, by event name, each with one report argument
	exited chan struct{}
	stderr *strings.Builder
}

// asUser runs the process as uid/gid with no supplementary groups.
func asUser(uid int) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
}

// startHelper runs the helper (as uid, or as ourselves when uid < 0) until
// the test ends, when its stdin is closed and it is waited for.
func startHelper(t *testing.T, uid int, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(helper(t), args...)
	if uid >= 0 {
		cmd.SysProcAttr = asUser(uid)
	}
	cmd.Dir = "/"
	p := &proc{cmd: cmd, log: eventlog.Record(nopSource{}), exited: make(chan struct{}), stderr: &strings.Builder{}}
	var err error
	p.stdin, err = cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = syncWriter{p.stderr, &sync.Mutex{}}
	require.NoError(t, cmd.Start())
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var r report
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				r = report{Event: "garbage", Err: sc.Text()}
			}
			p.log.Add(r.Event, r)
		}
		_ = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop closes the helper's stdin and waits for it to exit (killing it
// after a timeout); its output is complete afterwards.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.stdin.Close()
	select {
	case <-p.exited:
	case <-time.After(eventlog.Timeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		t.Errorf("helper %v did not exit when its stdin closed; stderr:\n%s", p.cmd.Args, p.stderr)
	}
}

// wait returns the next report of that event.
func (p *proc) wait(t *testing.T, event string) report {
	t.Helper()
	return p.log.Wait(t, event).Arg(0).(report)
}

// listening waits until a serving helper has bound its socket, failing
// the test if its Listen failed.
func (p *proc) listening(t *testing.T) {
	t.Helper()
	var r report
	p.log.Until(t, "the helper's Listen", func(events []eventlog.Event) bool {
		for _, e := range events {
			if e.Name == "listening" || e.Name == "listenError" {
				r = e.Arg(0).(report)
				return true
			}
		}
		return false
	})
	if r.Event != "listening" {
		t.Fatalf("the helper could not listen: %s", r.Err)
	}
}

// reports returns every report of that event so far.
func (p *proc) reports(event string) []report {
	var rs []report
	for _, e := range p.log.All() {
		if e.Name == event {
			rs = append(rs, e.Arg(0).(report))
		}
	}
	return rs
}

// runHelper runs the helper to its end and returns its reports.
func runHelper(t *testing.T, uid int, args ...string) []report {
	t.Helper()
	cmd := exec.Command(helper(t), args...)
	if uid >= 0 {
		cmd.SysProcAttr = asUser(uid)
	}
	cmd.Dir = "/"
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.Output()
	require.NoError(t, err, "helper %v: stderr:\n%s", args, stderr.String())
	var rs []report
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r report
		require.NoError(t, json.Unmarshal([]byte(line), &r), "line %q", line)
		rs = append(rs, r)
	}
	return rs
}

type syncWriter struct {
	b  *strings.Builder
	mu *sync.Mutex
}

func (w syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// nopSource lets eventlog.Record make an empty log that is fed with Add.
type nopSource struct{}

func (nopSource) On(string, any) emitter.Handle { return emitter.Handle{} }

// sharedDir makes a fresh folder another user can traverse (0755, or
// owned by owner when owner >= 0) and returns it; it is removed after the
// test. os.MkdirTemp makes 0700 folders, which nobody else can enter.
func sharedDir(t *testing.T, owner int) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sipc")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	if owner >= 0 {
		require.NoError(t, os.Chown(dir, owner, owner))
	}
	return dir
}

// withUmask sets the process umask for the rest of the test.
func withUmask(t *testing.T, m int) {
	t.Helper()
	old := syscall.Umask(m)
	t.Cleanup(func() { syscall.Umask(old) })
}

// modeName names a SocketMode in subtest names.
func modeName(m os.FileMode) string {
	if m == 0 {
		return "no SocketMode"
	}
	return "SocketMode " + m.String()
}
