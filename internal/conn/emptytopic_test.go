package conn

import (
	"testing"
	"time"

	"github.com/socketipc/socketipc/internal/loop"
	"github.com/socketipc/socketipc/message"
)

// A frame with topic "" (as a Node peer sends it) arrives as topic "none",
// event "message.none": what we send for "" is "none" too, so a topic means
// the same both ways.
func TestEmptyTopicArrivesAsNone(t *testing.T) {
	nc, peer := unixPair(t)

	type got struct{ name, event, payload string }
	arrived := make(chan got, 16)
	l := loop.New()
	c := New(nc, Config{
		Loop: l,
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
	c.Run()
	defer func() {
		peer.Close() // first: Close waits for the peer to end its side
		c.Close()
		<-c.Done()
		l.Stop()
		<-l.Done()
	}()

	// Raw frames, as a Node 0.4.0 peer writes them; the second "" is served
	// from the topic cache.
	wire := `{"topic":"","message":1}` + "\x00\x00" + `{"topic":"x","message":2}` + "\x00\x00" +
		`{"topic":"","message":3}` + "\x00\x00" + `{"topic":"none","message":4}` + "\x00\x00"
	if _, err := peer.Write([]byte(wire)); err != nil {
		t.Fatal(err)
	}
	want := []got{
		{message.NoneTopic, "message.none", "1"},
		{"x", "message.x", "2"},
		{message.NoneTopic, "message.none", "3"},
		{message.NoneTopic, "message.none", "4"},
	}
	for i, w := range want {
		select {
		case g := <-arrived:
			if g != w {
				t.Errorf("message %d: got %+v, want %+v", i, g, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("message %d did not arrive", i)
		}
	}
}
