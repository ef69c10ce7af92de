package server_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A two-frame stream split in two writes at every byte offset still gives
// exactly those two messages, in order.
func TestWireSplitAtEveryOffset(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{})
	var got []any
	srv.On("message", func(msg any, topic string) {
		got = append(got, []any{topic, msg})
		log.Add("got")
	})
	p := dialRaw(t, srv, log)
	// Multi-byte UTF-8, escapes and a NUL escaped inside a string.
	stream := append(frameJSON("héllo", `{"k":"a\u0000b","v":[1,2.5,null]}`), frameJSON("w", `"→ é 😀"`)...)
	want := []any{
		[]any{"héllo", map[string]any{"k": "a\x00b", "v": []any{1.0, 2.5, nil}}},
		[]any{"w", "→ é 😀"},
	}
	for cut := 0; cut <= len(stream); cut++ {
		got = nil
		before := log.Count("got")
		p.write(t, stream[:cut])
		p.write(t, stream[cut:])
		log.WaitCount(t, "got", before+2)
		require.Equal(t, want, got, "split at byte %d of %d", cut, len(stream))
	}
	require.Equal(t, 2*(len(stream)+1), log.Count("got"), "no extra message")
	require.Zero(t, log.Count("error"), "errors: %v", log.All())
}

// Many frames in one write all arrive, in order.
func TestWireManyFramesInOneWrite(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{})
	var got []float64
	srv.On("message.n", func(n float64) {
		got = append(got, n)
		if len(got) == 3000 {
			log.Add("all")
		}
	})
	p := dialRaw(t, srv, log)
	var stream []byte
	for i := range 3000 {
		stream = append(stream, frameJSON("n", fmt.Sprint(i))...)
	}
	p.write(t, stream)
	log.Wait(t, "all")
	for i, n := range got {
		require.Equal(t, float64(i), n)
	}
	require.Zero(t, log.Count("error"))
}

// What we send is exactly the bytes Node writes.
func TestWireOutgoingBytes(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{})
	p := dialRaw(t, srv, log)
	type point struct {
		X int    `json:"x"`
		Y string `json:"y,omitempty"`
	}
	cases := []struct {
		topic string
		msg   any
		want  string
	}{
		{"t", "hello", `{"topic":"t","message":"hello"}`},
		{"t", 42, `{"topic":"t","message":42}`},
		{"t", 1.5, `{"topic":"t","message":1.5}`},
		{"t", nil, `{"topic":"t","message":null}`},
		{"t", true, `{"topic":"t","message":true}`},
		{"t", []any{1, "a", nil}, `{"topic":"t","message":[1,"a",null]}`},
		{"t", map[string]any{"b": 1, "a": []int{2}}, `{"topic":"t","message":{"a":[2],"b":1}}`},
		{"t", point{X: 3}, `{"topic":"t","message":{"x":3}}`},
		{"t", "<a href='x'>&</a>", `{"topic":"t","message":"<a href='x'>&</a>"}`},
		{"t", "quote \" back \\ nl \n tab \t", `{"topic":"t","message":"quote \" back \\ nl \n tab \t"}`},
		{"t", "é 😀", `{"topic":"t","message":"é 😀"}`},
		{"t", json.RawMessage(`{"raw":true}`), `{"topic":"t","message":{"raw":true}}`},
		{"some.topic <&>", 0, `{"topic":"some.topic <&>","message":0}`},
		{"", "x", `{"topic":"none","message":"x"}`},
	}
	var want []byte
	for _, c := range cases {
		require.NoError(t, srv.Send(c.topic, c.msg, p.ID), "send %v", c.msg)
		want = append(want, c.want+"\x00\x00"...)
	}
	// Broadcast writes the same bytes, "none" for an empty topic included.
	require.NoError(t, srv.Broadcast("", map[string]any{"k": "<v>"}))
	want = append(want, `{"topic":"none","message":{"k":"<v>"}}`+"\x00\x00"...)
	got := p.readExactly(t, len(want))
	require.Equal(t, string(want), string(got))
	require.Zero(t, log.Count("error"))
}

// Keys in either order, extra keys, a missing message (null) and white
// space are all read as Node's JSON.parse would.
func TestWireIncomingEnvelopes(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{})
	type got struct {
		Topic string
		Msg   any
		Raw   string
	}
	var gots []got
	srv.On("message", func(msg any, topic string) { gots = append(gots, got{Topic: topic, Msg: msg}) })
	srv.On("message", func(raw json.RawMessage) {
		gots[len(gots)-1].Raw = string(raw)
		log.Add("got")
	})
	p := dialRaw(t, srv, log)
	frames := []string{
		`{"message":{"a":1},"topic":"rev"}`,
		`{"topic":"extra","extra":[1,{"x":"y"}],"message":"m","more":null}`,
		`{"topic":"nomsg"}`,
		` { "topic" : "spaced" , "message" : [ 1 , 2 ] } `,
		`{"topic":"null","message":null}`,
		`{"topic":"esc\u00e9\n","message":"\u2028"}`,
	}
	for _, f := range frames {
		p.write(t, []byte(f+"\x00\x00"))
	}
	log.WaitCount(t, "got", len(frames))
	assert.Equal(t, []got{
		{"rev", map[string]any{"a": 1.0}, `{"a":1}`},
		{"extra", "m", `"m"`},
		{"nomsg", nil, `null`},
		{"spaced", []any{1.0, 2.0}, `[ 1 , 2 ]`},
		{"null", nil, `null`},
		{"esc\u00e9\n", "\u2028", `"\u2028"`},
	}, gots)
	require.Zero(t, log.Count("error"), "errors: %v", log.All())
}

// A message payload with the delimiter's bytes escaped in it survives a
// round trip through the Go client (which shares nothing with the raw peer).
func TestWireNULInsidePayload(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{}, "message.nul")
	cli, clog, id := connectClient(t, log, srv.SocketFile(), "message.back")
	payload := strings.Repeat("\x00", 5) + "x\x00\x00y"
	require.NoError(t, cli.Send("nul", payload))
	assert.Equal(t, []any{payload, id}, log.Wait(t, "message.nul").Args)
	require.NoError(t, srv.Send("back", payload, id))
	assert.Equal(t, []any{payload}, clog.Wait(t, "message.back").Args)
}

// Framing: message.LegacyFraming talks to peers before 0.4 ("%EOM%").
func TestWireLegacyFraming(t *testing.T) {
	leakcheck.Check(t)
	srv, log := startServer(t, server.Options{Framing: message.LegacyFraming}, "message.t")
	p := dialRaw(t, srv, log)
	p.write(t, []byte(`{"topic":"t","message":"a"}%EOM%{"topic":"t","message":"b\u0025EOM%"}%E`))
	p.write(t, []byte(`OM%`))
	assert.Equal(t, []any{"a", p.ID}, log.Wait(t, "message.t").Args)
	assert.Equal(t, []any{"b%EOM%", p.ID}, log.Wait(t, "message.t").Args)

	require.NoError(t, srv.Send("t", "x%EOM%y", p.ID))
	require.NoError(t, srv.Send("", 1, p.ID))
	want := `{"topic":"t","message":"x\u0025EOM%y"}%EOM%{"topic":"none","message":1}%EOM%`
	assert.Equal(t, want, string(p.readExactly(t, len(want))))
	assert.Zero(t, log.Count("error"), "errors: %v", log.All())
}

// More distinct topics than the per-connection topic cache holds are all
// delivered under their own names.
func TestWireManyTopics(t *testing.T) {
	leakcheck.Check(t)
	const topics = 3000
	srv, log := startServer(t, server.Options{})
	var mismatches int
	var seen int
	srv.On("message", func(msg float64, topic string) {
		if topic != fmt.Sprint("t", int(msg)) {
			mismatches++
		}
	})
	for i := range topics {
		srv.On(fmt.Sprint("message.t", i), func(msg float64) {
			if int(msg) != i {
				mismatches++
			}
			seen++
			if seen == topics {
				log.Add("all")
			}
		})
	}
	p := dialRaw(t, srv, log)
	var stream []byte
	for i := range topics {
		stream = append(stream, frameJSON(fmt.Sprint("t", i), fmt.Sprint(i))...)
	}
	p.write(t, stream)
	log.Wait(t, "all")
	assert.Zero(t, mismatches)
	assert.Equal(t, topics, seen)
}
