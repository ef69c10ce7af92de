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
	peer.Close() // first: Close waits for the peer to end its side
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

// The server looks the "message" event up only when its listeners change:
// one added by a listener while a batch is being delivered gets the very
// next message of that batch, and one removed gets nothing more.
func TestMessageListenerAddedDuringDelivery(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{}, "message.n")
	var seen []string
	var h emitter.Handle
	srv.On("message.n", func(s string) {
		switch s {
		case "1":
			h = srv.On("message", func(p string, topic string) { seen = append(seen, topic+":"+p) })
		case "3":
			h.Off()
		}
	})
	peer := dialRaw(t, srv, log)
	var wire strings.Builder
	for i := range 5 {
		wire.Write(frameJSON("n", fmt.Sprintf(`"%d"`, i)))
	}
	peer.write(t, []byte(wire.String()))
	for range 5 {
		log.Wait(t, "message.n")
	}
	peer.Close() // first: Close waits for the peer to end its side
	require.NoError(t, srv.Close())
	// "message" comes before "message.n": 2 and 3 reach it, 4 does not.
	assert.Equal(t, []string{"n:2", "n:3"}, seen)
}
