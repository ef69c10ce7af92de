package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"
)

const requestUsage = `Usage: socketipc request [flags] SOCKET TOPIC [JSON]

Connect to the socketipc server on the socket file SOCKET, send one request
for TOPIC and print the reply as one JSON line on stdout. The request's
payload is the JSON text JSON, or stdin's whole content when JSON is absent
or "-" (a JSON text that starts with "-", such as -1, goes after "--").

Requests follow socketipc's request/reply convention: the frame
{"topic":"$req.TOPIC","message":{"id":...,"data":JSON}} is answered on "$res"
with the same id. A socketipc server answers with server.Handle; a Node peer
with a few lines of its own (see docs/ADVANCED.md). A failure reply (the
handler's error, or no handler for TOPIC) is printed on stderr, exit status 1.

Flags:
  --timeout D    give up when no server has accepted within D, or no reply
                 came within D after that (default 5s; 0: wait forever)
  --legacy       frames end with "%EOM%", for Node socket-ipc before 0.4
  -v, --verbose  report each failed connection attempt on stderr

Exit status: 0 the reply was printed, 1 failure (no server, a failure reply,
no reply in time, the connection ended first), 2 usage error (JSON is not
valid JSON).
`

func runRequest(ctx context.Context, t *term, args []string) int {
	f := newFlags("request", requestUsage, 5*time.Second, false)
	operands, code, ok := f.parse(t, args)
	if !ok {
		return code
	}
	if len(operands) < 2 || len(operands) > 3 {
		return t.usageError("want SOCKET TOPIC [JSON], got %d operands", len(operands))
	}
	socket, topic := operands[0], operands[1]
	payload, code, ok := readMessage(t, operands)
	if !ok {
		return code
	}

	timeout := time.Duration(f.timeout)
	e := endpoint{socket: socket, legacy: f.legacy}
	c := newConnection(t, f.verbose)
	cli, err := startClient(e, retryEvery, c.hooks(nil))
	if err != nil {
		return t.startFailed(err)
	}
	defer cli.closeWritten()
	if !c.awaitConnect(ctx, cli, socket, timeout) {
		return exitFailure
	}
	reqCtx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		reqCtx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	reply, err := cli.request(reqCtx, topic, payload)
	if text, remote := remoteError(err); remote {
		t.errorf("the server answered %q with an error: %s", topic, text)
		return exitFailure
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		t.errorf("no reply to %q within %v", topic, timeout)
		return exitFailure
	case ctx.Err() != nil:
		t.errorf("interrupted before the reply to %q", topic)
		return exitFailure
	case err != nil:
		t.error(err)
		return exitFailure
	}
	if bytes.ContainsAny(reply, "\r\n") {
		var b bytes.Buffer
		if err := json.Compact(&b, reply); err == nil {
			reply = b.Bytes()
		}
	}
	if _, err := t.stdout.Write(append(reply, '\n')); err != nil {
		t.errorf("writing the reply: %v", err)
		return exitFailure
	}
	return exitOK
}
