package message

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"reflect"
	"testing"
)

// The golden frames in testdata/golden.json were written by the Node package
// @crussell52/socket-ipc itself (0.4.0 for "\0\0" frames, 0.2.0 for legacy
// "%EOM%" frames), by testdata/golden.js. This test does not need node.

type goldenCase struct {
	topic string
	msg   any
	// differs says our bytes differ from Node's in a way SPEC §1 allows
	// (both decode to the same value); the reason is the comment.
	differs bool
}

// goldenCases must be kept in step with the table in testdata/golden.js.
var goldenCases = map[string]goldenCase{
	"string-empty":              {"hello", "", false},
	"string-ascii":              {"hello", "world", false},
	"string-html":               {"hello", `<a href="x">&amp;</a> <>&`, false},
	"string-accents":            {"hello", "àéîõü ÀÉÎÕÜ ç ñ ß", false},
	"string-cjk":                {"hello", "日本語のテキスト 中文 한국어", false},
	"string-emoji":              {"hello", "😀 👍🏽 🇫🇷 👨\u200d👩\u200d👧", false},
	"string-nul":                {"hello", "a\x00b", false},
	"string-quotes-backslashes": {"hello", `say "hi" \ back\slash / slash`, false},
	"string-controls":           {"hello", "\b\f\n\r\t\x01\x1f\x7f end", false},
	// Go escapes U+2028 and U+2029; Node writes them raw.
	"string-u2028":        {"hello", "line\u2028para\u2029end", true},
	"number-zero":         {"n", 0, false},
	"number-minus-one":    {"n", -1, false},
	"number-one-and-half": {"n", 1.5, false},
	"number-1e21":         {"n", 1e21, false},
	"number-2p53":         {"n", float64(1 << 53), false},
	"number-minus-micro":  {"n", -0.000001, false},
	"number-1e-7":         {"n", 1e-7, false},
	"number-big":          {"n", 123456789012345680000.0, false},
	"number-pi":           {"n", math.Pi, false},
	"true":                {"b", true, false},
	"false":               {"b", false, false},
	"null":                {"b", nil, false},
	"object-nested": {"obj", map[string]any{
		"a": 1, "b": []any{true, nil, map[string]any{"c": "d", "e": []any{}}}, "f": map[string]any{"g": map[string]any{"h": "i"}},
	}, false},
	// A struct keeps Node's member order; a map would be sorted.
	"object-unsorted": {"obj", struct {
		Zeta  int    `json:"zeta"`
		Alpha string `json:"alpha"`
		Mid   []int  `json:"mid"`
	}{1, "two", []int{3}}, false},
	"object-empty":  {"obj", map[string]any{}, false},
	"array-empty":   {"arr", []any{}, false},
	"array-mixed":   {"arr", []any{1, "two", 3.5, false, nil, map[string]any{"k": "v"}, []any{[]any{}}}, false},
	"topic-dots":    {"app.user.created", map[string]any{"id": 42}, false},
	"topic-spaces":  {"a topic with spaces", "x", false},
	"topic-unicode": {"tópico.日本", "x", false},
	// Node omits "message" when it is undefined; Go has no undefined and
	// writes null. Both read back as null.
	"message-undefined": {"gone", nil, true},
}

type goldenFile struct {
	SocketIPC       string `json:"socketIpc"`
	SocketIPCLegacy string `json:"socketIpcLegacy"`
	Cases           []struct {
		Name        string `json:"name"`
		Frame       string `json:"frame"`
		LegacyFrame string `json:"legacyFrame"`
	} `json:"cases"`
}

type goldenFrame struct {
	name          string
	frame, legacy []byte
}

func loadGolden(t *testing.T) []goldenFrame {
	t.Helper()
	data, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var gf goldenFile
	if err := json.Unmarshal(data, &gf); err != nil {
		t.Fatal(err)
	}
	if gf.SocketIPC != "0.4.0" || gf.SocketIPCLegacy != "0.2.0" {
		t.Fatalf("golden frames from socket-ipc %s / %s", gf.SocketIPC, gf.SocketIPCLegacy)
	}
	var out []goldenFrame
	seen := map[string]bool{}
	for _, c := range gf.Cases {
		frame, err1 := hex.DecodeString(c.Frame)
		legacy, err2 := hex.DecodeString(c.LegacyFrame)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if _, ok := goldenCases[c.Name]; !ok {
			t.Fatalf("golden case %q is not in goldenCases", c.Name)
		}
		seen[c.Name] = true
		out = append(out, goldenFrame{c.Name, frame, legacy})
	}
	for name := range goldenCases {
		if !seen[name] {
			t.Fatalf("goldenCases[%q] is not in testdata/golden.json: rerun golden.js", name)
		}
	}
	return out
}

// plain is v as a Node listener would see it: through JSON into any.
func plain(t *testing.T, v any) any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGoldenEncode(t *testing.T) {
	for _, g := range loadGolden(t) {
		c := goldenCases[g.name]
		for _, f := range []struct {
			framing Framing
			want    []byte
		}{{NulFraming, g.frame}, {LegacyFraming, g.legacy}} {
			got, err := AppendFrame(nil, JSON, f.framing, c.topic, c.msg)
			if err != nil {
				t.Fatalf("%s: %v", g.name, err)
			}
			if c.differs {
				if bytes.Equal(got, f.want) {
					t.Errorf("%s: now identical to Node's frame; drop the exception", g.name)
				}
				continue
			}
			if !bytes.Equal(got, f.want) {
				t.Errorf("%s %v:\n ours %q\n Node %q", g.name, f.framing, got, f.want)
			}
		}
	}
}

func TestGoldenDecode(t *testing.T) {
	golden := loadGolden(t)
	for _, legacy := range []bool{false, true} {
		framing := NulFraming
		var stream []byte
		for _, g := range golden {
			if legacy {
				framing = LegacyFraming
				stream = append(stream, g.legacy...)
			} else {
				stream = append(stream, g.frame...)
			}
		}
		// Our own frames too: they must read back the same.
		var ours []byte
		for _, g := range golden {
			c := goldenCases[g.name]
			var err error
			if ours, err = AppendFrame(ours, JSON, framing, c.topic, c.msg); err != nil {
				t.Fatal(err)
			}
		}
		for _, s := range [][]byte{stream, ours} {
			for _, chunk := range []int{1, 2, 3, 7, 64, len(s)} {
				fr := NewFrameReader(&chunkedReader{data: s, sizes: []byte{byte(chunk - 1)}}, framing, 0)
				if chunk == len(s) {
					fr = NewFrameReader(bytes.NewReader(s), framing, 0)
				}
				i := 0
				for {
					frames, err := fr.Next()
					for _, frame := range frames {
						g := golden[i]
						c := goldenCases[g.name]
						i++
						topic, payload, err := JSON.SplitEnvelope(frame)
						if err != nil {
							t.Fatalf("%s: %v", g.name, err)
						}
						if string(topic) != c.topic {
							t.Errorf("%s: topic %q want %q", g.name, topic, c.topic)
						}
						var got any
						if err := JSON.Unmarshal(payload, &got); err != nil {
							t.Fatalf("%s: %v", g.name, err)
						}
						if want := plain(t, c.msg); !reflect.DeepEqual(got, want) {
							t.Errorf("%s: message %#v want %#v", g.name, got, want)
						}
					}
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatalf("legacy=%v chunk %d: %v", legacy, chunk, err)
					}
				}
				if i != len(golden) {
					t.Fatalf("legacy=%v chunk %d: %d frames, want %d", legacy, chunk, i, len(golden))
				}
			}
		}
	}
}

func TestGoldenMessageUndefined(t *testing.T) {
	for _, g := range loadGolden(t) {
		if g.name != "message-undefined" {
			continue
		}
		frame := bytes.TrimSuffix(g.frame, []byte("\x00\x00"))
		if string(frame) != `{"topic":"gone"}` {
			t.Fatalf("Node wrote %q", frame)
		}
		_, payload, err := JSON.SplitEnvelope(frame)
		if err != nil || payload != nil {
			t.Fatalf("payload %q, %v; want nil", payload, err)
		}
		return
	}
	t.Fatal("no message-undefined case")
}
