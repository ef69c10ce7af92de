package server_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type checkedPoint struct {
	A int    `json:"a"`
	B string `json:"b"`
}

// Frames in the layout writers use are cut without reading the payload and
// checked as they are delivered (internal/conn quickSplit, Msg.Check).
// Whatever the first listener decodes into, a malformed frame is reported as
// the full split in the reader reports it, no listener sees it, and frames
// around it arrive; a valid frame that only looks like that layout is
// delivered as the full split reads it; Stats counts what it did before.
func TestPayloadCheckedOnDelivery(t *testing.T) {
	frames := []string{
		`{"topic":"o","message":{"a":1}}`,
		`{"topic":"o","message":{"a":}}`,                    // bad payload
		`{"topic":"o","message":{"a":1}`,                    // the frame's own brace is missing
		`{"topic":"o","message":1,"topic":"p"}`,             // valid: the last topic counts
		`{"topic":"o","message":{"a":2},"x":[1]}`,           // valid: another member after
		`{"topic":"o","message":{"a":2},"message":{"a":3}}`, // valid: the last message counts
		`{"topic":"o","message":{"a":3,"b":"y"}}`,
		`{"topic":"o","message":{"a":4}}`, // b is "" again: nothing left from the one before
	}
	for range 12 { // a run: 10 errors, then one for the other 2
		frames = append(frames, `{"topic":"o","message":[}`)
	}
	frames = append(frames, `{"topic":"o","message":{"a":5}}`)

	// What each frame should give, from the full split.
	type want struct {
		topic, payload string
		bad            bool
	}
	var wants []want
	bad := 0
	for _, f := range frames {
		topic, payload, err := message.JSON.SplitEnvelope([]byte(f))
		wants = append(wants, want{string(topic), string(payload), err != nil})
		if err != nil {
			bad++
		}
	}
	require.Equal(t, 14, bad)

	listeners := map[string]func(srv *server.Server, log *eventlog.Log){
		"any": func(srv *server.Server, log *eventlog.Log) {
			srv.On("message.o", func(v any) { log.Add("o", v) })
		},
		"struct": func(srv *server.Server, log *eventlog.Log) {
			srv.On("message.o", func(v checkedPoint) { log.Add("o", v) })
		},
		"OnMessage": func(srv *server.Server, log *eventlog.Log) {
			server.OnMessage(srv, "o", func(v checkedPoint, _ string) { log.Add("o", v) })
		},
		"raw": func(srv *server.Server, log *eventlog.Log) {
			srv.On("message.o", func(v json.RawMessage) { log.Add("o", string(v)) })
		},
		"none": func(srv *server.Server, log *eventlog.Log) {
			srv.On("message.o", func() { log.Add("o") })
		},
		"message event first": func(srv *server.Server, log *eventlog.Log) {
			srv.On("message", func(v any, topic string) {
				if topic == "o" {
					log.Add("o", v)
				}
			})
			srv.On("message.o", func(v checkedPoint) {})
		},
	}
	for name, listen := range listeners {
		t.Run(name, func(t *testing.T) {
			leakcheck.Check(t)
			srv, err := server.New(server.Options{SocketFile: testsock.Path(t)})
			require.NoError(t, err)
			t.Cleanup(func() { _ = srv.Close() })
			log := eventlog.Record(srv, "listening", "connection", "error", "message.p")
			listen(srv, log)
			require.NoError(t, srv.Listen())
			log.Wait(t, "listening")
			p := dialRaw(t, srv, log)

			var wire strings.Builder
			for _, f := range frames {
				wire.WriteString(f + "\x00\x00")
			}
			p.write(t, []byte(wire.String())) // one write: mostly one batch
			good := len(frames) - bad
			log.WaitCount(t, "o", good-1) // one good frame is on topic p
			log.WaitCount(t, "message.p", 1)
			log.WaitCount(t, "error", 13)

			var got []any
			for _, e := range log.All() {
				if e.Name == "o" {
					if len(e.Args) > 0 {
						got = append(got, e.Args[0])
					} else {
						got = append(got, nil)
					}
				}
			}
			var expect []any
			for _, w := range wants {
				if w.bad || w.topic != "o" {
					continue
				}
				switch name {
				case "any", "message event first":
					var v any
					require.NoError(t, json.Unmarshal([]byte(w.payload), &v))
					expect = append(expect, v)
				case "struct", "OnMessage":
					var v checkedPoint
					require.NoError(t, json.Unmarshal([]byte(w.payload), &v))
					expect = append(expect, v)
				case "raw":
					expect = append(expect, w.payload)
				case "none":
					expect = append(expect, nil)
				}
			}
			assert.Equal(t, expect, got)
			assert.Equal(t, []any{1.0, p.ID}, log.Wait(t, "message.p").Args)

			var errs []error
			for _, e := range log.All() {
				if e.Name == "error" {
					errs = append(errs, e.Err())
				}
			}
			require.Len(t, errs, 13) // frames 1 and 2, then the run of 12
			for i, err := range errs {
				assert.ErrorIs(t, err, message.ErrNotJSON, "error %d", i)
			}
			var rep *message.RepeatedError
			require.ErrorAs(t, errs[12], &rep)
			assert.Equal(t, 2, rep.Count)
			var de *message.DecodeError
			require.ErrorAs(t, errs[0], &de)
			assert.Equal(t, frames[1], string(de.Raw))
			assert.Equal(t, p.ID, de.ClientID)

			st := srv.Stats()
			assert.Equal(t, uint64(good), st.MessagesIn)
			assert.Equal(t, uint64(bad), st.DecodeErrors)
		})
	}
}
