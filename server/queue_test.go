package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const smallQueue = 64 << 10

// chunk is a 1 KiB message body.
var chunk = strings.Repeat("q", 1000)

// chunkFrameLen is the length on the wire of Send("q", chunk).
var chunkFrameLen = len(frameJSON("q", `"`+chunk+`"`))

// fillQueue sends chunks to id until the queue is full and returns how many
// sends succeeded and the error of the one that failed.
func fillQueue(t *testing.T, srv *server.Server, id string) (int, error) {
	t.Helper()
	// The kernel's socket buffers take some before the queue fills; a few
	// MiB is far more than they hold.
	const bound = (4 << 20) / 1000
	for n := range bound {
		if err := srv.Send("q", chunk, id); err != nil {
			return n, err
		}
	}
	t.Fatalf("%d sends to a client that never reads all succeeded", bound)
	return 0, nil
}

// A client that never reads fills its queue: the send fails with
// ErrQueueFull (returned and emitted), other clients are unaffected, and
// once the client reads everything a "drain" event says the queue is empty.
func TestQueueFullAndDrain(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{MaxQueueBytes: smallQueue}, "message.t")
	slow := dialRaw(t, srv, log)
	other := dialRaw(t, srv, log)

	sent, err := fillQueue(t, srv, slow.ID)
	require.ErrorIs(t, err, message.ErrQueueFull)
	var se *message.SendError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, slow.ID, se.ClientID)
	assert.Equal(t, "q", se.Topic)
	assert.Equal(t, chunk, se.Message)
	requireEmitted(t, log, err)
	// Refused only once what it holds (at most everything sent) leaves no
	// room; and it never holds more than the limit.
	assert.Greater(t, sent*chunkFrameLen, smallQueue-chunkFrameLen)
	assert.LessOrEqual(t, srv.Conn(slow.ID).QueuedBytes(), smallQueue)

	// The other client is unaffected, both ways; the slow one is still connected.
	require.NoError(t, srv.Send("t", "hi", other.ID))
	assert.Equal(t, `{"topic":"t","message":"hi"}`, string(other.frame(t)))
	other.write(t, frameJSON("t", "1"))
	log.Wait(t, "message.t")
	assert.ElementsMatch(t, []string{slow.ID, other.ID}, srv.ClientIDs())

	// The slow client reads everything it was sent, in order, and "drain"
	// comes (the queue may have emptied into the kernel's buffers already).
	for i := range sent {
		f := slow.frame(t)
		require.Equal(t, `{"topic":"q","message":"`+chunk+`"}`, string(f), "frame %d", i)
	}
	assert.Equal(t, []any{slow.ID}, log.Wait(t, "drain").Args)
	assert.Zero(t, srv.Conn(slow.ID).QueuedBytes())
	// And the queue takes frames again.
	require.NoError(t, srv.Send("q", "again", slow.ID))
	assert.Equal(t, `{"topic":"q","message":"again"}`, string(slow.frame(t)))
	assert.Equal(t, 1, log.Count("drain"), "one drain per refusal")
	assert.Zero(t, log.Count("connectionClose"))
}

// bigFrame is more than the kernel's socket buffers hold (about 200 KiB),
// so a writer that has it queued for a peer that does not read stays
// blocked: the queue is full until the peer reads.
var bigFrame = strings.Repeat("B", 1<<20)

// A queue stays full while its client does not read, however often one
// tries; "drain" comes only once the client has read, and then sends work.
func TestQueueStaysFullUntilRead(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{MaxQueueBytes: smallQueue})
	slow := dialRaw(t, srv, log)
	// An empty queue takes any frame, even one over the limit.
	require.NoError(t, srv.Send("big", bigFrame, slow.ID))
	for i := range 100 {
		err := srv.Send("q", i, slow.ID)
		require.ErrorIs(t, err, message.ErrQueueFull, "send %d", i)
		requireEmitted(t, log, err)
	}
	assert.Zero(t, log.Count("drain"), "no drain before the client reads")
	assert.Equal(t, `{"topic":"big","message":"`+bigFrame+`"}`, string(slow.frame(t)))
	assert.Equal(t, []any{slow.ID}, log.Wait(t, "drain").Args)
	require.NoError(t, srv.Send("q", "ok", slow.ID))
	assert.Equal(t, `{"topic":"q","message":"ok"}`, string(slow.frame(t)))
	assert.Equal(t, 1, log.Count("drain"))
}

// A frame larger than the whole queue limit still goes through an empty
// queue (so any message can be sent), but not a busy one.
func TestQueueFrameLargerThanLimit(t *testing.T) {
	leakcheck.Check(t)
	const limit = 4 << 10
	srv, log := startServer(t, server.Options{MaxQueueBytes: limit})
	p := dialRaw(t, srv, log)
	big := strings.Repeat("b", 3*limit)
	require.NoError(t, srv.Send("big", big, p.ID))
	assert.Equal(t, `{"topic":"big","message":"`+big+`"}`, string(p.frame(t)))
}

// With DisconnectSlowClients, the client whose queue overflows is dropped.
func TestQueueDisconnectSlowClients(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{MaxQueueBytes: smallQueue, DisconnectSlowClients: true}, "message.t")
	slow := dialRaw(t, srv, log)
	other := dialRaw(t, srv, log)

	_, err := fillQueue(t, srv, slow.ID)
	require.ErrorIs(t, err, message.ErrQueueFull)
	var se *message.SendError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, slow.ID, se.ClientID)
	requireEmitted(t, log, err)
	closeEv := log.Wait(t, "connectionClose")
	assert.Equal(t, slow.ID, closeEv.Arg(0))
	require.ErrorIs(t, closeEv.Arg(1).(error), message.ErrSlowClient, "what was dropped (see TestDisconnectSlowClientsCountsDiscarded)")
	_ = slow.readToEnd(t) // the connection ends (what was queued is dropped)
	assert.Equal(t, []string{other.ID}, srv.ClientIDs())
	err = srv.Send("q", 1, slow.ID)
	require.ErrorIs(t, err, message.ErrBadClient)
	requireEmitted(t, log, err)

	require.NoError(t, srv.Send("t", "hi", other.ID))
	assert.Equal(t, `{"topic":"t","message":"hi"}`, string(other.frame(t)))
	other.write(t, frameJSON("t", "1"))
	log.Wait(t, "message.t")
	assert.Zero(t, log.Count("drain"))
}

// A Broadcast that finds one queue full still reaches every other client
// and names the one that missed it.
func TestBroadcastWithOneFullQueue(t *testing.T) {
	for _, disconnect := range []bool{false, true} {
		name := map[bool]string{false: "keep", true: "disconnect"}[disconnect]
		t.Run(name, func(t *testing.T) {
			leakcheck.Check(t)
			srv, log := startServer(t, server.Options{MaxQueueBytes: smallQueue, DisconnectSlowClients: disconnect})
			slow := dialRaw(t, srv, log)
			fast := dialRaw(t, srv, log)
			fast2 := dialRaw(t, srv, log)
			require.NoError(t, srv.Send("big", bigFrame, slow.ID))

			err := srv.Broadcast("q", chunk)
			require.ErrorIs(t, err, message.ErrQueueFull)
			var se *message.SendError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, []string{slow.ID}, se.Missed)
			assert.Equal(t, "q", se.Topic)
			assert.Equal(t, chunk, se.Message)
			assert.Empty(t, se.ClientID)
			assert.Contains(t, err.Error(), "missed 1 client")
			requireEmitted(t, log, err)
			for _, p := range []*rawPeer{fast, fast2} {
				assert.Equal(t, `{"topic":"q","message":"`+chunk+`"}`, string(p.frame(t)))
			}

			if disconnect {
				closeEv := log.Wait(t, "connectionClose")
				assert.Equal(t, slow.ID, closeEv.Arg(0))
				require.ErrorIs(t, closeEv.Arg(1).(error), message.ErrSlowClient)
				require.ErrorIs(t, err, message.ErrSlowClient, "the broadcast's error says it was dropped")
				require.NoError(t, srv.Broadcast("q2", 2))
			} else {
				err = srv.Broadcast("q2", 2)
				require.ErrorAs(t, err, &se)
				assert.Equal(t, []string{slow.ID}, se.Missed)
				requireEmitted(t, log, err)
				// The slow client gets what it was sent before, not what it missed.
				assert.Equal(t, `{"topic":"big","message":"`+bigFrame+`"}`, string(slow.frame(t)))
				log.Wait(t, "drain")
				require.NoError(t, srv.Broadcast("q3", 3))
				assert.Equal(t, `{"topic":"q3","message":3}`, string(slow.frame(t)))
			}
			for _, p := range []*rawPeer{fast, fast2} {
				assert.Equal(t, `{"topic":"q2","message":2}`, string(p.frame(t)))
			}
		})
	}
}

// Close with a client that never reads returns within FlushTimeout, with an
// error (returned and emitted) saying what was not written.
func TestCloseFlushTimeout(t *testing.T) {
	leakcheck.Check(t)
	const flush = 300 * time.Millisecond
	srv, log := startServer(t, server.Options{FlushTimeout: flush})
	slow := dialRaw(t, srv, log)
	_, glog, _ := connectClient(t, log, srv.SocketFile(), "message.q")
	big := strings.Repeat("z", 256<<10)
	for range 8 { // 2 MiB: more than the kernel's buffers hold
		require.NoError(t, srv.Send("big", big, slow.ID))
	}
	for i := range 3 {
		require.NoError(t, srv.Broadcast("q", i))
	}
	start := time.Now()
	err := srv.Close()
	elapsed := time.Since(start)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "were not written")
	assert.Contains(t, err.Error(), flush.String())
	assert.Less(t, elapsed, flush+time.Second, "Close took %v with a %v flush timeout", elapsed, flush)
	assert.GreaterOrEqual(t, elapsed, flush-50*time.Millisecond, "Close did not wait for the flush")

	// Among the error events is the very error Close returned.
	log.Until(t, "Close's error emitted", func(events []eventlog.Event) bool {
		for _, e := range events {
			if e.Name == "error" && e.Err() == err {
				return true
			}
		}
		return false
	})
	// The client that reads got everything before its disconnect.
	glog.Wait(t, "disconnect")
	assert.Equal(t, 3, glog.Count("message.q"))
	assert.Equal(t, 1, log.Count("close"))
	for _, e := range log.All() {
		if e.Name == "error" && e.Err() != err {
			assert.Contains(t, e.Err().Error(), slow.ID, "a flush error names the client")
		}
	}
}
