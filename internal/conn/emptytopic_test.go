package conn

import (
	"testing"

	"github.com/socketipc/socketipc/message"
)

// A frame with topic "" (as a Node peer sends it) arrives as topic "none",
// event "message.none": what we send for "" is "none" too, so a topic means
// the same both ways.
func TestEmptyTopicArrivesAsNone(t *testing.T) {
	nc, peer := unixPair(t)

	type got struct{ name, event, payload string }
	arrived := make(chan got, 16)
	runConn(t, nc, peer, Config{
		OnMessages: func(_ *Conn, msgs []Msg) {
			for i := range msgs {
				m := &msgs[i]
				if m.Err != nil {
					t.Errorf("frame %d: %v", i, m.Err)
					continue
				}
				arrived <- got{m.Topic.Name, m.Topic.Event, string(m.PayloadBytes())}
			}
		},
	})

	// Raw frames, as a Node 0.4.0 peer writes them; the second "" is served
	// from the topic cache.
	wire := `{"topic":"","message":1}` + "\x00\x00" + `{"topic":"x","message":2}` + "\x00\x00" +
		`{"topic":"","message":3}` + "\x00\x00" + `{"topic":"none","message":4}` + "\x00\x00"
	want := []got{
		{message.NoneTopic, "message.none", "1"},
		{"x", "message.x", "2"},
		{message.NoneTopic, "message.none", "3"},
		{message.NoneTopic, "message.none", "4"},
	}
	writeAndExpect(t, peer, wire, arrived, want...)
}
