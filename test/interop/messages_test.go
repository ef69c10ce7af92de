//go:build unix

package interop_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/message"
)

// jsonKinds are messages of every JSON kind, as JSON text. Node sends JSON.parse of the text;
// Go sends the value encoding/json decodes from it (what a func(msg any) listener gets).
var jsonKinds = []struct{ name, json string }{
	{"string", `"hello, world"`},
	{"empty-string", `""`},
	{"zero", `0`},
	{"integer", `42`},
	{"negative", `-17`},
	{"fraction", `3.25`},
	{"negative-fraction", `-0.1`},
	{"two-to-the-53", `9007199254740992`},
	{"minus-two-to-the-53", `-9007199254740992`},
	{"1e21", `1e21`},
	{"tiny", `1e-7`},
	{"max-float", `1.7976931348623157e308`},
	{"true", `true`},
	{"false", `false`},
	{"null", `null`},
	{"object", `{"name":"gopher","age":13,"tags":["a","b"],"ok":true,"none":null}`},
	{"nested", `{"a":{"b":{"c":[1,[2,[3,{"d":[]}]]]}},"e":[{"f":{}}]}`},
	{"array", `[1,"two",[3],{"four":4},null,true,false,-5.5]`},
	{"empty-object", `{}`},
	{"empty-array", `[]`},
	{"deep", strings.Repeat("[", 100) + `"bottom"` + strings.Repeat("]", 100)},
	{"accents", `"café naïve Ångström façade"`},
	{"cjk", `"日本語のテキスト 中文 한국어"`},
	{"emoji", `"🙂 👍🏽 🇫🇷 👩‍👩‍👧"`},
	{"line-separators", "\"a\u2028b\u2029c\""},
	{"nul", `"before\u0000after"`},
	{"control", `"\t\n\r\b\f\u0001\u001f\u007f"`},
	{"quotes", `"\"quoted\" \\back\\slash/ 'single'"`},
	{"html", `"<script>alert(1)</script> &amp; <>"`},
	{"delimiter-lookalikes", `"%EOM% %% EOM \\u0000\\u0000"`},
	{"unicode-keys", `{"ключ":"значение","🙂":1,"":"empty key","a\u0000b":2}`},
}

// topics are topic names Node and Go must agree on, event names included.
var topics = []string{"a.b.c", "with space", " padded . dots ", "ünïcødé 🙂", "message", "message.x", "UPPER-case_123"}

func TestMessages(t *testing.T) {
	leakcheck.Check(t)
	for _, topo := range topologies {
		t.Run(topo.name, func(t *testing.T) {
			l := topo.setup(t, false)

			t.Run("node-to-go", func(t *testing.T) {
				t.Run("kinds", func(t *testing.T) { testKindsNodeToGo(t, l) })
				t.Run("topics", func(t *testing.T) { testTopicsNodeToGo(t, l) })
				t.Run("empty-topic", func(t *testing.T) { testEmptyTopicNodeToGo(t, l) })
				t.Run("missing-message", func(t *testing.T) { testMissingMessageNodeToGo(t, l) })
				t.Run("lone-surrogate", func(t *testing.T) { testLoneSurrogateNodeToGo(t, l) })
				t.Run("big", func(t *testing.T) { testBigNodeToGo(t, l) })
				t.Run("burst", func(t *testing.T) { testBurstNodeToGo(t, l) })
				t.Run("raw-frames", func(t *testing.T) { testRawFramesNodeToGo(t, l) })
				t.Run("bad-frames", func(t *testing.T) { testBadFramesNodeToGo(t, l) })
			})
			t.Run("go-to-node", func(t *testing.T) {
				t.Run("kinds", func(t *testing.T) { testKindsGoToNode(t, l) })
				t.Run("go-types", func(t *testing.T) { testGoTypesGoToNode(t, l) })
				t.Run("topics", func(t *testing.T) { testTopicsGoToNode(t, l) })
				t.Run("empty-topic", func(t *testing.T) { testEmptyTopicGoToNode(t, l) })
				t.Run("unencodable", func(t *testing.T) { testUnencodableGoToNode(t, l) })
				t.Run("big", func(t *testing.T) { testBigGoToNode(t, l) })
				t.Run("burst", func(t *testing.T) { testBurstGoToNode(t, l) })
			})

			// The conversation still works after all that, and neither end reported an error
			// it should not have.
			l.in.watch("final")
			l.nodeDo(t, map[string]any{"cmd": "send", "topic": "final", "message": "up"})
			if m := l.expectGo(t, "final"); m.Value != "up" {
				t.Errorf("final message at the Go end: %#v", m.Value)
			}
			if err := l.goSend("final", "down"); err != nil {
				t.Fatalf("Go send: %v", err)
			}
			if m := l.expectNode(t, "final"); string(m.Message) != `"down"` {
				t.Errorf("final message at the Node end: %s", m.Line)
			}
			l.in.checkNoOtherErrors(t)
			checkNodeClean(t, l.node)
		})
	}
}

func testKindsNodeToGo(t *testing.T, l *link) {
	for _, k := range jsonKinds {
		t.Run(k.name, func(t *testing.T) {
			topic := "kind." + k.name
			l.in.watch(topic)
			l.nodeDo(t, map[string]any{"cmd": "send", "topic": topic, "message": json.RawMessage(k.json)})
			m := l.expectGo(t, topic)
			if want := mustJSON(t, k.json); !reflect.DeepEqual(m.Value, want) {
				t.Errorf("Go got %#v, want %#v", m.Value, want)
			}
			// The raw payload is JSON.stringify's text of the value: equal as JSON.
			if !jsonEqual(m.Raw, []byte(k.json)) {
				t.Errorf("Go got raw %s, want the JSON of %s", m.Raw, k.json)
			}
		})
	}
}

func testKindsGoToNode(t *testing.T, l *link) {
	for _, k := range jsonKinds {
		t.Run(k.name, func(t *testing.T) {
			topic := "kind." + k.name
			if err := l.goSend(topic, mustJSON(t, k.json)); err != nil {
				t.Fatalf("Go send: %v", err)
			}
			m := l.expectNode(t, topic)
			// The peer reports JSON.stringify of what Node decoded.
			if m.MessageMissing || !jsonEqual(m.Message, []byte(k.json)) {
				t.Errorf("Node got %s, want %s", m.Line, k.json)
			}
		})
	}
}

// testGoTypesGoToNode sends Go values that are not what encoding/json decodes into an any.
func testGoTypesGoToNode(t *testing.T, l *link) {
	type inner struct {
		List []string `json:"list"`
	}
	type hello struct {
		Name   string            `json:"name"`
		Count  int               `json:"count"`
		Inner  *inner            `json:"inner"`
		Skip   string            `json:"-"`
		Omit   string            `json:"omit,omitempty"`
		Labels map[string]uint16 `json:"labels"`
	}
	cases := []struct {
		name string
		msg  any
		want string // what JSON.stringify of Node's value gives, exactly
	}{
		{"int64-2^53", int64(1) << 53, `9007199254740992`},
		// JavaScript numbers are doubles: an integer past 2^53 loses its low bits at Node
		// (Go sends the exact digits).
		{"int64-2^53+1", int64(1)<<53 + 1, `9007199254740992`},
		{"uint64-max", uint64(math.MaxUint64), `18446744073709552000`},
		{"int8", int8(-128), `-128`},
		{"float32", float32(0.1), `0.1`},
		{"1e21", 1e21, `1e+21`},
		{"1e20", 1e20, `100000000000000000000`},
		{"struct", hello{Name: "gopher", Count: 3, Inner: &inner{List: []string{"x"}}, Skip: "no", Labels: map[string]uint16{"b": 2, "a": 1}},
			`{"name":"gopher","count":3,"inner":{"list":["x"]},"labels":{"a":1,"b":2}}`},
		{"nil-pointer", (*hello)(nil), `null`},
		{"typed-slice", []int{1, 2, 3}, `[1,2,3]`},
		{"nil-slice", []int(nil), `null`},
		{"empty-slice", []string{}, `[]`},
		{"map-int-keys", map[int]string{2: "b", 10: "a"}, `{"10":"a","2":"b"}`},
		{"bytes", []byte("hi"), `"aGk="`},
		{"raw-message", json.RawMessage(` { "raw" : [ 1 , 2 ] } `), `{"raw":[1,2]}`},
		{"invalid-utf8", "a\xffb", `"a\ufffdb"`},
		{"html", "<a>&", `"<a>&"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			topic := "gotype." + c.name
			if err := l.goSend(topic, c.msg); err != nil {
				t.Fatalf("Go send: %v", err)
			}
			m := l.expectNode(t, topic)
			// Compare the decoded values (the peer's JSON.stringify escapes differ from
			// Go's), and exact text for numbers, where the value is the point.
			if !jsonEqual(m.Message, []byte(c.want)) {
				t.Errorf("Node got %s, want %s", m.Message, c.want)
			}
			if strings.HasPrefix(c.want, "1") || strings.HasPrefix(c.want, "9") || strings.HasPrefix(c.want, "-") {
				if string(m.Message) != c.want {
					t.Errorf("Node got %s, want exactly %s", m.Message, c.want)
				}
			}
		})
	}
}

func testTopicsNodeToGo(t *testing.T, l *link) {
	for i, topic := range topics {
		l.in.watch(topic)
		l.nodeDo(t, map[string]any{"cmd": "send", "topic": topic, "message": i})
		if m := l.expectGo(t, topic); m.Value != float64(i) {
			t.Errorf("topic %q: Go got %#v, want %d", topic, m.Value, i)
		}
	}
}

func testTopicsGoToNode(t *testing.T, l *link) {
	for i, topic := range topics {
		if err := l.goSend(topic, i); err != nil {
			t.Fatalf("Go send: %v", err)
		}
		if m := l.expectNode(t, topic); string(m.Message) != fmt.Sprint(i) {
			t.Errorf("topic %q: Node got %s, want %d", topic, m.Line, i)
		}
	}
}

// testEmptyTopicNodeToGo: Node's docs promise that an empty topic is sent as "none", but its
// code forgot (SPEC §1): JSON.stringify({topic: "", ...}) puts "topic":"" on the wire. The Go
// end reads it as "none", the topic Go sends for "": topic "none" on "message", and the event
// "message.none", so an empty topic means the same both ways.
func testEmptyTopicNodeToGo(t *testing.T, l *link) {
	l.in.watch("none")
	l.nodeDo(t, map[string]any{"cmd": "send", "topic": "", "message": "no topic"})
	if m := l.expectGo(t, "none"); m.Value != "no topic" {
		t.Errorf("Go got %#v", m.Value)
	}
}

// testEmptyTopicGoToNode: Go sends an empty topic as "none", as Node's docs promise.
func testEmptyTopicGoToNode(t *testing.T, l *link) {
	if err := l.goSend("", "no topic"); err != nil {
		t.Fatalf("Go send: %v", err)
	}
	if m := l.expectNode(t, "none"); string(m.Message) != `"no topic"` {
		t.Errorf("Node got %s", m.Line)
	}
}

// testMissingMessageNodeToGo: Node omits the message key when the message is undefined; Go
// reads the missing key as null (Go has no undefined, so the other direction does not exist).
func testMissingMessageNodeToGo(t *testing.T, l *link) {
	l.in.watch("undefined")
	l.nodeDo(t, map[string]any{"cmd": "send", "topic": "undefined"}) // no "message": undefined
	m := l.expectGo(t, "undefined")
	if m.Value != nil || string(m.Raw) != "null" {
		t.Errorf("Go got %#v (raw %q), want nil (raw null)", m.Value, m.Raw)
	}
}

// testLoneSurrogateNodeToGo: a JavaScript string may hold a lone UTF-16 surrogate; Node's
// JSON.stringify escapes it ("\ud800"). A Go string cannot hold one: the decoded value has
// U+FFFD in its place (as encoding/json does), and the raw payload keeps the escape.
func testLoneSurrogateNodeToGo(t *testing.T, l *link) {
	l.in.watch("surrogate")
	l.nodeDo(t, map[string]any{"cmd": "send", "topic": "surrogate", "message": json.RawMessage(`"a\ud800b"`)})
	m := l.expectGo(t, "surrogate")
	if m.Value != "a\ufffdb" {
		t.Errorf("Go got %q, want %q", m.Value, "a\ufffdb")
	}
	if !strings.Contains(strings.ToLower(string(m.Raw)), `\ud800`) {
		t.Errorf("raw payload %s lost the escaped surrogate", m.Raw)
	}
}

const bigSize = 8 << 20

func testBigNodeToGo(t *testing.T, l *link) {
	l.in.watch("big")
	d := doWithin(t, l.node, l.nodeCmd(map[string]any{"cmd": "sendBig", "topic": "big", "size": bigSize, "char": "n"}), burstWait)
	m := l.in.expectMessageWithin(t, "big", burstWait)
	if m.ClientID != l.nodeIDAtGo {
		t.Errorf("big message from client id %q, want %q", m.ClientID, l.nodeIDAtGo)
	}
	s, ok := m.Value.(string)
	if !ok {
		t.Fatalf("Go got a %T, want a string", m.Value)
	}
	sum := sha256.Sum256([]byte(s))
	if len(s) != bigSize || hex.EncodeToString(sum[:]) != d.Str("sha256") {
		t.Errorf("Go got %d bytes with sha256 %x, Node sent %d with %s", len(s), sum, bigSize, d.Str("sha256"))
	}
	if len(m.Raw) != bigSize+2 || m.Raw[0] != '"' || m.Raw[len(m.Raw)-1] != '"' || sha256.Sum256(m.Raw[1:len(m.Raw)-1]) != sum {
		t.Errorf("raw payload is %d bytes, not the quoted string", len(m.Raw))
	}
}

func testBigGoToNode(t *testing.T, l *link) {
	s := strings.Repeat("g", bigSize-3) + "end"
	sum := sha256.Sum256([]byte(s))
	if err := l.goSend("big", s); err != nil {
		t.Fatalf("Go send: %v", err)
	}
	m := expectNodeMessageWithin(t, l.node, "big", burstWait)
	if m.ClientID != l.goIDAtNode {
		t.Errorf("big message at the Node end from client id %q, want %q", m.ClientID, l.goIDAtNode)
	}
	if m.MessageLength != len(s) || m.MessageSHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("Node got %s, want length %d and sha256 %x", m.Line, len(s), sum)
	}
}

const burstCount = 100_000

func testBurstNodeToGo(t *testing.T, l *link) {
	c := newCounter("n", burstCount)
	h := l.in.src.On("message."+quietTopic, c.listener)
	defer h.Off()
	doWithin(t, l.node, l.nodeCmd(map[string]any{"cmd": "sendMany", "topic": quietTopic, "count": burstCount, "prefix": "n"}), burstWait)
	c.await(t, "Go end")
}

func testBurstGoToNode(t *testing.T, l *link) {
	do(t, l.node, map[string]any{"cmd": "quiet", "topic": quietTopic, "prefix": "g", "expect": burstCount})
	for i := range burstCount {
		if err := l.goSend(quietTopic, fmt.Sprintf("g%d", i)); err != nil {
			t.Fatalf("Go send #%d: %v", i, err)
		}
	}
	c := l.node.Expect(t, "count", burstWait)
	if c.Count != burstCount || !c.Bool("inOrder") || c.Int("clients") != 1 || c.Str("lastMessage") != fmt.Sprintf("g%d", burstCount-1) {
		t.Errorf("Node counted %s", c.Line)
	}
	do(t, l.node, map[string]any{"cmd": "quiet", "topic": quietTopic, "off": true})
}

func rawFrames(frames ...string) string {
	return base64.StdEncoding.EncodeToString([]byte(strings.Join(frames, "")))
}

// testRawFramesNodeToGo: frames Node's encoder does not write but a reader must accept (SPEC §1):
// keys in the other order, extra keys, spaces, several frames in one write, a frame split over
// writes.
func testRawFramesNodeToGo(t *testing.T, l *link) {
	for _, topic := range []string{"rev", "spaced", "split"} {
		l.in.watch(topic)
	}
	l.nodeDo(t, map[string]any{"cmd": "sendRaw", "data": rawFrames(
		`{"message":{"b":1},"topic":"rev","extra":true}`+"\x00\x00",
		` { "topic" : "spaced" , "message" : [ 1 , 2 ] } `+"\x00\x00",
	)})
	if m := l.expectGo(t, "rev"); !reflect.DeepEqual(m.Value, map[string]any{"b": float64(1)}) {
		t.Errorf("reversed keys: Go got %#v", m.Value)
	}
	if m := l.expectGo(t, "spaced"); !reflect.DeepEqual(m.Value, []any{float64(1), float64(2)}) {
		t.Errorf("spaced frame: Go got %#v", m.Value)
	}
	l.nodeDo(t, map[string]any{"cmd": "sendRaw", "data": rawFrames(`{"topic":"sp`)})
	l.nodeDo(t, map[string]any{"cmd": "sendRaw", "data": rawFrames(`lit","message":7}` + "\x00")})
	l.nodeDo(t, map[string]any{"cmd": "sendRaw", "data": rawFrames("\x00")})
	if m := l.expectGo(t, "split"); m.Value != float64(7) {
		t.Errorf("split frame: Go got %#v", m.Value)
	}

	// A repeated key counts the last time, as in JSON.parse; escapes in the topic are decoded.
	for _, topic := range []string{"second", "té.x"} {
		l.in.watch(topic)
	}
	l.nodeDo(t, map[string]any{"cmd": "sendRaw", "data": rawFrames(
		`{"topic":"first","message":1,"topic":"second","message":2}`+"\x00\x00",
		`{"topic":"t\u00e9\u002ex","message":"escaped"}`+"\x00\x00",
	)})
	if m := l.expectGo(t, "second"); m.Value != float64(2) {
		t.Errorf("repeated keys: Go got %#v", m.Value)
	}
	if m := l.expectGo(t, "té.x"); m.Value != "escaped" {
		t.Errorf("escaped topic: Go got %#v", m.Value)
	}

	// A number beyond float64 (JSON.parse makes it Infinity): a func(msg any) listener can't
	// have it, so that listener is skipped with a *message.DecodeError on "error"; a
	// json.RawMessage listener gets the text.
	l.in.watch("huge-number")
	l.nodeDo(t, map[string]any{"cmd": "sendRaw", "data": rawFrames(`{"topic":"huge-number","message":1e400}` + "\x00\x00")})
	err := l.in.expectError(t)
	var de *message.DecodeError
	if !errors.As(err, &de) || de.ClientID != l.nodeIDAtGo {
		t.Errorf("1e400 for a func(any) listener: %v, want a *message.DecodeError from %q", err, l.nodeIDAtGo)
	}
	var raw eventlog.Event
	l.in.log.Within(t, "message.huge-number", wait, func(events []eventlog.Event) bool {
		for j, e := range events[l.in.next:] {
			if e.Name == "message.huge-number" {
				raw = e
				l.in.next += j + 1 // taken: expectMessage must not see it as the next message's pair
				return true
			}
		}
		return false
	})
	if r, _ := raw.Arg(0).(json.RawMessage); string(r) != "1e400" {
		t.Errorf("the json.RawMessage listener got %v, want 1e400", raw)
	}
	// Nothing reached the func(any) listener: the next message it sees is the next one sent.
	l.in.watch("after-huge")
	l.nodeDo(t, map[string]any{"cmd": "send", "topic": "after-huge", "message": 0})
	l.expectGo(t, "after-huge")
}

// testBadFramesNodeToGo: a frame that is not JSON, not an object, or has no string topic is a
// *message.DecodeError on "error" with the raw bytes (and the client id at a server); the
// connection stays usable, and the frames after the bad one in the same write still arrive.
// (A Node receiver does worse: its DecodeError constructor throws, and the rest of the chunk is
// lost; see internal/testkit/nodepeer's TestRawFrames.)
func testBadFramesNodeToGo(t *testing.T, l *link) {
	bad := []struct {
		frame string
		why   error
	}{
		{"not json", message.ErrNotJSON},
		{"", message.ErrNotJSON},
		{"   ", message.ErrNotJSON},
		{`{"topic":"truncated"`, message.ErrNotJSON},
		{`[1,2]`, message.ErrNotObject},
		{`"just a string"`, message.ErrNotObject},
		{`{"message":1}`, message.ErrNoTopic},
		{`{"topic":5,"message":1}`, message.ErrNoTopic},
	}
	l.in.watch("after-bad")
	for i, b := range bad {
		l.nodeDo(t, map[string]any{"cmd": "sendRaw", "data": rawFrames(
			b.frame+"\x00\x00",
			fmt.Sprintf(`{"topic":"after-bad","message":%d}`, i)+"\x00\x00",
		)})
		err := l.in.expectError(t)
		var de *message.DecodeError
		if !errors.As(err, &de) {
			t.Fatalf("frame %q: Go emitted %v (%T), want a *message.DecodeError", b.frame, err, err)
		}
		if string(de.Raw) != b.frame || de.ClientID != l.nodeIDAtGo || !errors.Is(err, b.why) {
			t.Errorf("frame %q: DecodeError{Raw: %q, ClientID: %q, Err: %v}, want raw %q, client id %q, %v",
				b.frame, de.Raw, de.ClientID, de.Err, b.frame, l.nodeIDAtGo, b.why)
		}
		if m := l.expectGo(t, "after-bad"); m.Value != float64(i) {
			t.Errorf("the frame after %q: Go got %#v", b.frame, m.Value)
		}
	}
}

// testUnencodableGoToNode: a value JSON cannot carry fails the Go send with a *message.SendError
// wrapping a *message.EncodeError, and nothing reaches Node: its next message is the next one
// Go sent. (Node's JSON.stringify turns NaN and Infinity into null and drops functions; Go
// refuses them.)
func testUnencodableGoToNode(t *testing.T, l *link) {
	for _, v := range []any{math.NaN(), math.Inf(1), func() {}, make(chan int), map[string]any{"f": math.Inf(-1)}} {
		err := l.goSend("unencodable", v)
		var ee *message.EncodeError
		var se *message.SendError
		if !errors.As(err, &se) || !errors.As(err, &ee) {
			t.Errorf("Go send of %T: %v, want a *message.SendError with a *message.EncodeError", v, err)
		}
		if got := l.in.expectError(t); got == nil || got.Error() != err.Error() {
			t.Errorf("Go send of %T returned %v but emitted %v", v, err, got)
		}
	}
	if err := l.goSend("after-unencodable", 1); err != nil {
		t.Fatalf("Go send: %v", err)
	}
	l.expectNode(t, "after-unencodable")
}
