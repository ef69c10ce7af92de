//go:build unix

package interop_test

import (
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/message"
)

// TestLegacyFraming: with Framing: message.LegacyFraming, a Go server or client talks to the
// Node package's 0.2.0 (frames end with "%EOM%"), both directions.
func TestLegacyFraming(t *testing.T) {
	leakcheck.Check(t)
	kinds := []struct{ name, json string }{
		{"string", `"legacy"`},
		{"number", `-12.5`},
		{"null", `null`},
		{"object", `{"a":[1,{"b":"c"}],"d":{}}`},
		{"unicode", `"é 日本 🙂 \u2028 nul:\u0000"`},
	}
	for _, topo := range topologies {
		t.Run(topo.name, func(t *testing.T) {
			l := topo.setup(t, true)
			if v := l.node.Events()[0].Str("version"); v != "0.2.0" {
				t.Fatalf("the legacy Node peer runs socket-ipc %q, want 0.2.0", v)
			}
			for _, k := range kinds {
				topic := "legacy." + k.name
				l.in.watch(topic)
				l.nodeDo(t, map[string]any{"cmd": "send", "topic": topic, "message": mustJSON(t, k.json)})
				if m := l.expectGo(t, topic); !jsonEqual(m.Raw, []byte(k.json)) {
					t.Errorf("%s: Go got %s, want %s", k.name, m.Raw, k.json)
				}
				if err := l.goSend(topic, mustJSON(t, k.json)); err != nil {
					t.Fatalf("Go send: %v", err)
				}
				if m := l.expectNode(t, topic); !jsonEqual(m.Message, []byte(k.json)) {
					t.Errorf("%s: Node got %s, want %s", k.name, m.Line, k.json)
				}
			}

			// Many frames, both ways, in order.
			const count = 2000
			c := newCounter("n", count)
			h := l.in.src.On("message."+quietTopic, c.listener)
			l.nodeDo(t, map[string]any{"cmd": "sendMany", "topic": quietTopic, "count": count, "prefix": "n"})
			c.await(t, "Go end")
			h.Off()
			do(t, l.node, map[string]any{"cmd": "quiet", "topic": quietTopic, "prefix": "g", "expect": count})
			for i := range count {
				if err := l.goSend(quietTopic, fmt.Sprintf("g%d", i)); err != nil {
					t.Fatalf("Go send #%d: %v", i, err)
				}
			}
			if e := l.node.Expect(t, "count", burstWait); e.Count != count || !e.Bool("inOrder") {
				t.Errorf("Node counted %s", e.Line)
			}

			// "%EOM%" inside a message: JSON does not escape it, so socket-ipc 0.2.0 writes it
			// raw and its own frame is cut in two at the reader. The Go end escapes the "%"
			// (as \u0025, which every JSON reader decodes back), so its frames arrive whole.
			for _, s := range []string{"a%EOM%b", "%EOM%EOM%", "%%EOM%%", "%EOM"} {
				if err := l.goSend("eom", s); err != nil {
					t.Fatalf("Go send: %v", err)
				}
				if m := l.expectNode(t, "eom"); string(m.Message) != strconv.Quote(s) {
					t.Errorf("Node got %s, want %q", m.Line, s)
				}
			}
			// The other way, the Go end gets the two halves of Node's broken frame as two
			// DecodeErrors (framing is intact, so the connection goes on).
			l.nodeDo(t, map[string]any{"cmd": "send", "topic": "eom", "message": "x%EOM%y"})
			for _, half := range []string{`{"topic":"eom","message":"x`, `y"}`} {
				err := l.in.expectError(t)
				var de *message.DecodeError
				if !errors.As(err, &de) || string(de.Raw) != half || !errors.Is(err, message.ErrNotJSON) {
					t.Errorf("Go end: %v, want a DecodeError for %q", err, half)
				}
			}
			l.in.watch("after-eom")
			l.nodeDo(t, map[string]any{"cmd": "send", "topic": "after-eom", "message": 1})
			l.expectGo(t, "after-eom")

			l.in.checkNoOtherErrors(t)
			checkNodeClean(t, l.node)
		})
	}
}
