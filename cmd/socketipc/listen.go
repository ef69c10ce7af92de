package main

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"time"
)

const listenUsage = `Usage: socketipc listen [flags] SOCKET

Be a socketipc server on the socket file SOCKET and print each message a
client sends as one JSON line on stdout:

  {"clientId":"<the client's id>","topic":"<topic>","message":<the JSON payload>}

The payload is printed as it arrived. Listening goes on until --count
messages have arrived, --timeout passes, or an interrupt (Ctrl-C); the
socket file is then removed. A socket file left by a crashed server is
reclaimed; one a live server holds is an error.

Flags:
  --count N      exit 0 once N messages have arrived (0: no limit)
  --timeout D    stop after D (such as 500ms, 10s, 2m); exit 1 unless N
                 messages (--count, or 1 without it) have arrived by then
  --legacy       frames end with "%EOM%", for Node socket-ipc before 0.4
  --raw          print each frame as it arrived instead (the whole envelope,
                 even a malformed one), followed by a newline
  --mode MODE    the socket file's permission bits in octal, such as 0600
                 (default: from the umask; not on Windows)
  -v, --verbose  report clients connecting and leaving on stderr

Exit status: 0 done, 1 failure (the socket file cannot be bound, --timeout
passed), 2 usage error.
`

func runListen(ctx context.Context, t *term, args []string) int {
	f := newFlags("listen", listenUsage, 0, true)
	var mode modeFlag
	f.Var(&mode, "mode", "")
	operands, code, ok := f.parse(t, args)
	if !ok {
		return code
	}
	if len(operands) != 1 {
		return t.usageError("want one SOCKET, got %d operands", len(operands))
	}
	// listen sends nothing, so closing has nothing to flush: it only waits
	// (briefly) for each client to hang up in turn.
	e := endpoint{socket: operands[0], legacy: f.legacy, raw: f.raw, mode: os.FileMode(mode), flush: 250 * time.Millisecond}
	count, timeout := f.count, f.timeout

	out := newLineWriter(t.stdout, f.raw)
	var got atomic.Int64
	finished := make(chan int, 1) // the exit status, when the listeners decide it
	finish := func(code int) {
		select {
		case finished <- code:
		default:
		}
	}
	hooks := serverHooks{
		message: func(payload []byte, topic, clientID string) {
			// Counted before it is printed: whoever reads the line may
			// interrupt at once, and the message has arrived by then.
			n := got.Add(1)
			if count > 0 && n > int64(count) {
				got.Add(-1)
				return // one too many, while closing
			}
			if err := out.message(clientID, topic, payload); err != nil {
				t.error(err)
				if isWriteError(err) {
					finish(exitFailure)
				}
				return
			}
			if count > 0 && n == int64(count) {
				finish(exitOK)
			}
		},
		err: t.error,
	}
	if f.verbose {
		hooks.connection = func(clientID string, opened bool) {
			if opened {
				t.notef("client %s connected", clientID)
			} else {
				t.notef("client %s left", clientID)
			}
		}
	}
	srv, err := startServer(e, hooks)
	if err != nil {
		return t.startFailed(err)
	}
	if f.verbose {
		t.notef("listening on %s", e.socket)
	}

	expired, stopTimer := deadline(time.Duration(timeout))
	defer stopTimer()
	select {
	case code = <-finished:
	case <-expired:
		code = exitFailure
		want := max(int64(count), 1)
		if n := got.Load(); n >= want {
			code = exitOK
		} else {
			t.errorf("timed out after %v: %d of %d message(s) arrived", time.Duration(timeout), n, want)
		}
	case <-ctx.Done():
		code = exitOK
		if count > 0 {
			code = exitFailure
			t.errorf("interrupted: %d of %d message(s) arrived", got.Load(), count)
		}
	}
	if err := srv.close(); err != nil {
		t.error(err)
		code = exitFailure
	}
	return code
}

// isWriteError tells a failed write to stdout from a message that could
// not be printed.
func isWriteError(err error) bool {
	var bad *badPayload
	return !errors.As(err, &bad)
}
