package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

const connectUsage = `Usage: socketipc connect [flags] SOCKET

Connect to the socketipc server on the socket file SOCKET. Each line of
stdin is a message to send,

  {"topic":"<topic>","message":<any JSON>}

and each message the server sends is printed as one JSON line on stdout, in
the same form (the payload as it arrived). Blank lines are ignored. A line
that is not such an object is reported on stderr with its line number and
skipped; the session goes on, and ends with exit status 1.

The session ends at the end of stdin (what was sent is written first), or,
with --count, once N messages have arrived; on an interrupt (Ctrl-C); or
when the server ends the connection (exit 1: there is no reconnect).

Flags:
  --count N      end once N messages have arrived (0: no limit); the end of
                 stdin then no longer ends the session
  --timeout D    exit 1 when no server has accepted within D, or, with
                 --count, when the N messages have not arrived within D of
                 starting (default 5s; 0: no limit)
  --legacy       frames end with "%EOM%", for Node socket-ipc before 0.4
  --raw          print each frame as it arrived instead (the whole envelope,
                 even a malformed one), followed by a newline
  -v, --verbose  report connecting on stderr

Exit status: 0 done, 1 failure (no server, the server left, a line was
skipped, a message was not written), 2 usage error.
`

func runConnect(ctx context.Context, t *term, args []string) int {
	f := newFlags("connect", connectUsage, 5*time.Second, true)
	operands, code, ok := f.parse(t, args)
	if !ok {
		return code
	}
	if len(operands) != 1 {
		return t.usageError("want one SOCKET, got %d operands", len(operands))
	}
	socket := operands[0]
	count, timeout := f.count, f.timeout
	e := endpoint{socket: socket, legacy: f.legacy, raw: f.raw}

	// Messages that arrive: counted and printed by the client's listeners.
	out := newLineWriter(t.stdout, f.raw)
	var got atomic.Int64
	counted := make(chan struct{})
	writeFailed := make(chan struct{})
	stdoutFailed := false
	c := newConnection(t, f.verbose)
	cli, err := startClient(e, retryEvery, c.hooks(func(payload []byte, topic string) {
		if stdoutFailed || count > 0 && got.Load() >= int64(count) {
			return // while closing
		}
		if err := out.message("", topic, payload); err != nil {
			t.error(err)
			if isWriteError(err) {
				stdoutFailed = true
				close(writeFailed)
			}
			return
		}
		if n := got.Add(1); count > 0 && n == int64(count) {
			close(counted)
		}
	}))
	if err != nil {
		return t.startFailed(err)
	}
	expired, stopTimer := deadline(time.Duration(timeout))
	defer stopTimer()
	if !c.awaitConnect(ctx, cli, socket, time.Duration(timeout)) {
		return exitFailure
	}
	if count == 0 {
		expired = nil // the timeout was for connecting
	}

	// Messages to send: read from stdin on a goroutine of their own, which
	// ends with stdin (or with the process, when the session ends first).
	input := make(chan inputResult, 1)
	go func() { input <- sendLines(t, cli) }()

	code = exitOK
	skipped := 0
loop:
	for {
		select {
		case res := <-input:
			input = nil
			skipped = res.skipped
			if res.err != nil {
				t.error(res.err)
				code = exitFailure
				break loop
			}
			if count == 0 {
				break loop
			}
		case <-counted:
			break loop
		case <-writeFailed:
			code = exitFailure
			break loop
		case <-c.gone:
			t.errorf("the server ended the connection")
			code = exitFailure
			break loop
		case <-expired:
			t.errorf("timed out after %v: %d of %d message(s) arrived", time.Duration(timeout), got.Load(), count)
			code = exitFailure
			break loop
		case <-ctx.Done():
			if count > 0 {
				t.errorf("interrupted: %d of %d message(s) arrived", got.Load(), count)
				code = exitFailure
			}
			break loop
		}
	}
	if err := cli.closeWritten(); err != nil {
		t.error(err)
		code = exitFailure
	}
	if skipped > 0 {
		code = exitFailure
	}
	return code
}

type inputResult struct {
	skipped int   // lines that were not messages
	err     error // stdin failed, or a message could not be sent
}

// sendLines sends each line of stdin as a message, until stdin ends.
func sendLines(t *term, cli *ipcClient) inputResult {
	var res inputResult
	sc := bufio.NewScanner(t.stdin)
	sc.Buffer(nil, maxMessage+64*1024)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		topic, payload, err := parseLine(line)
		if err != nil {
			t.errorf("stdin line %d: %v; skipped", n, err)
			res.skipped++
			continue
		}
		if err := cli.send(topic, payload); err != nil {
			res.err = fmt.Errorf("stdin line %d: %w", n, err)
			return res
		}
	}
	if err := sc.Err(); err != nil {
		res.err = fmt.Errorf("reading stdin: %w", err)
	}
	return res
}

// parseLine reads {"topic":"...","message":...}; a missing message is null.
func parseLine(line []byte) (topic string, payload []byte, err error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(line, &fields); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return "", nil, errors.New(`not a JSON object; want {"topic":"...","message":...}`)
		}
		return "", nil, fmt.Errorf("not valid JSON: %w", err)
	}
	for name := range fields {
		if name != "topic" && name != "message" {
			return "", nil, fmt.Errorf(`unknown field %q; want {"topic":"...","message":...}`, name)
		}
	}
	if err := json.Unmarshal(fields["topic"], &topic); err != nil || topic == "" {
		return "", nil, errors.New(`"topic" must be a non-empty string`)
	}
	payload = fields["message"]
	if payload == nil {
		payload = []byte("null")
	}
	return topic, payload, nil
}
