package client_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/message"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A server that floods the client with malformed frames (a million empty
// ones) costs a few error events, and the client drops that connection
// once more than conn.MaxBadFrames arrive within a second; it then
// reconnects as after any drop.
func TestBadFrameFloodFromServer(t *testing.T) {
	leakcheck.Check(t)
	path := testsock.Path(t)
	raw := listenRaw(t, path)
	cli := newClient(t, fastOptions(path))
	log := eventlog.Record(cli, clientEvents...)
	require.NoError(t, cli.Connect())
	c := raw.accept()
	log.Wait(t, "connect")

	require.NoError(t, c.SetWriteDeadline(time.Now().Add(eventlog.Timeout)))
	_, werr := c.Write(bytes.Repeat([]byte("\x00\x00"), 1_000_000))
	log.Wait(t, "disconnect")
	assert.Error(t, werr, "the client stopped reading the flood")

	var floods, events int
	for _, e := range log.All() {
		if e.Name != "error" {
			continue
		}
		events++
		if errors.Is(e.Err(), message.ErrTooManyBadFrames) {
			floods++
		}
	}
	assert.Equal(t, 1, floods)
	assert.LessOrEqual(t, events, 40, "error events for one flood")

	raw.accept() // it reconnects
	log.Wait(t, "reconnect")
}
