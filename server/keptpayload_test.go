package server_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socketipc/socketipc/emitter"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/server"
)

// A listener may keep the Payload it is given: the connection recycles the
// storage of a batch's messages once they are delivered, so a listener that
// takes the Payload itself gets a copy of its own, still reading its
// message after many more batches have been delivered (and their storage
// reused).
func TestKeptPayloadOutlivesItsBatch(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{}, "message.n")
	var kept []emitter.Payload
	var raw []string
	srv.On("message.n", func(p emitter.Payload) { kept = append(kept, p) })
	srv.On("message.n", func(s string) { raw = append(raw, s) })
	peer := dialRaw(t, srv, log)

	const batches, perBatch = 20, 50
	for b := range batches {
		var wire strings.Builder
		for i := range perBatch {
			wire.Write(frameJSON("n", fmt.Sprintf("%q", fmt.Sprint(b*perBatch+i))))
		}
		peer.write(t, []byte(wire.String())) // one write: usually one batch
		for range perBatch {
			log.Wait(t, "message.n")
		}
	}
	require.NoError(t, srv.Close())

	require.Len(t, kept, batches*perBatch)
	for i, p := range kept {
		want := fmt.Sprint(i)
		assert.Equal(t, fmt.Sprintf("%q", want), string(p.PayloadBytes()), "payload %d", i)
		v, err := p.PayloadValue()
		require.NoError(t, err)
		assert.Equal(t, want, v, "payload %d", i)
		assert.Equal(t, want, raw[i])
	}
}
