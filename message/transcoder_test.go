package message

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// stdEncode is the reference: what a json.Encoder with HTML escaping off
// writes for v, without its newline.
func stdEncode(t testing.TB, v any) ([]byte, error) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

type orderedStruct struct {
	Zeta  int    `json:"zeta"`
	Alpha string `json:"alpha"`
}

type named string

type marshaler struct{}

func (marshaler) MarshalJSON() ([]byte, error) { return []byte(`{ "custom" : [1, 2] }`), nil }

type textMarshaler struct{}

func (textMarshaler) MarshalText() ([]byte, error) { return []byte("as<text>"), nil }

// encodeCases are values that appendJSON must encode exactly as encoding/json.
func encodeCases() []any {
	var nilMap map[string]any
	var nilSlice []any
	var nilRaw json.RawMessage
	var nilPtr *int
	s := "pointer"
	return []any{
		nil, true, false,
		"", "plain", "<>&", "quote\" backslash\\ slash/", "\x00\x01\x1f\x7f\b\f\n\r\t",
		"àéî 日本語 😀", "bad utf8 \xff\xfe end", "trunc \xe6\x97", "\u2028\u2029", "long " + strings.Repeat("abcdefgh", 20) + "\n",
		0.0, math.Copysign(0, -1), 1.0, -1.0, 1.5, 1e21, 1e20, 999999999999999999999.0, 1e-6, 1e-7, -0.000001, 123456789.123,
		math.MaxFloat64, math.SmallestNonzeroFloat64, float64(1 << 53), 0.1, 1e100, 5e-324,
		float32(1.1), float32(1e21), float32(1e-7), float32(3.4e38), float32(-0.5),
		0, -1, math.MaxInt, math.MinInt, int64(math.MaxInt64), int64(math.MinInt64), int8(-8), int16(16), int32(-32), int64(64),
		uint(1), uint8(8), uint16(16), uint32(32), uint64(math.MaxUint64), uintptr(7),
		json.RawMessage(`{"a" : [1, 2, {"b": "c d"}],  "e":"<&>\u2028"}`), json.RawMessage(" 12 "), nilRaw,
		json.RawMessage(`"spaces inside \" a string "`),
		map[string]any{}, nilMap, map[string]any{"b": 1, "a": "x", "c": []any{1, "2", nil}, "<": map[string]any{"z": true, "y": nil}},
		[]any{}, nilSlice, []any{1, "x", nil, []any{}, map[string]any{}, 2.5, json.RawMessage(`[ 1 ]`)},
		map[string]any{"t": time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), "s": orderedStruct{1, "<a>"}, "n": named("n"), "m": marshaler{}},
		orderedStruct{Zeta: 1, Alpha: "two"}, &orderedStruct{}, named("named<>"), marshaler{}, textMarshaler{},
		[]byte("bytes are base64"), []string{"a", "b"}, map[string]int{"b": 1, "a": 2}, map[int]string{2: "b", 1: "a"},
		nilPtr, &s, json.Number("12.5"), struct{}{}, [2]int{1, 2},
		map[string]any{"deep": []any{[]any{[]any{map[string]any{"x": []any{1}}}}}},
	}
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	for _, v := range encodeCases() {
		want, err := stdEncode(t, v)
		if err != nil {
			t.Fatalf("%#v: encoding/json failed: %v", v, err)
		}
		got, err := appendJSON([]byte("prefix"), v)
		if err != nil {
			t.Errorf("%#v: %v", v, err)
			continue
		}
		if !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Errorf("%#v:\n got %s\nwant prefix%s", v, got, want)
		}
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	// Every single byte, and every rune class in a few contexts.
	var all []string
	for c := 0; c < 256; c++ {
		all = append(all, string([]byte{byte(c)}), "abcdefgh"+string([]byte{byte(c)})+"ijklmnop")
	}
	all = append(all, "\u2027\u2028\u2029\u202a", "\U0010FFFF", "\xed\xa0\x80", "\xf4\x90\x80\x80", "12345678\u2028", "1234567\xff")
	for _, s := range all {
		want, _ := stdEncode(t, s)
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("%q: got %s want %s", s, got, want)
		}
	}
}

func TestAppendEnvelope(t *testing.T) {
	got, err := JSON.AppendEnvelope([]byte("x"), "a<b>&c", map[string]any{"k": "<v>"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `x{"topic":"a<b>&c","message":{"k":"<v>"}}`; string(got) != want {
		t.Fatalf("got %s want %s", got, want)
	}
}

func TestAppendEnvelopeUnencodable(t *testing.T) {
	cycle := map[string]any{}
	cycle["self"] = cycle
	cyclic := []any{nil}
	cyclic[0] = cyclic
	for _, v := range []any{
		make(chan int), func() {}, math.Inf(1), math.Inf(-1), math.NaN(), float32(math.Inf(1)),
		map[string]any{"a": math.NaN()}, []any{1, make(chan int)}, json.RawMessage(`{bad`), json.RawMessage{},
		map[string]any{"f": func() {}}, cycle, cyclic, complex(1, 2),
	} {
		_, stdErr := stdEncode(t, v)
		if stdErr == nil {
			t.Fatalf("%T: encoding/json accepted it", v)
		}
		dst := []byte("keep")
		out, err := JSON.AppendEnvelope(dst, "t", v)
		if err == nil {
			t.Errorf("%T: no error", v)
			continue
		}
		if string(out) != "keep" {
			t.Errorf("%T: dst changed to %q", v, out)
		}
		if err.Error() != stdErr.Error() {
			t.Errorf("%T: error %q, encoding/json says %q", v, err, stdErr)
		}
		frame, err := AppendFrame(dst, JSON, NulFraming, "t", v)
		var ee *EncodeError
		if !errors.As(err, &ee) || string(frame) != "keep" || ee.Topic != "t" {
			t.Errorf("%T: AppendFrame gave %q, %v", v, frame, err)
		}
	}
}

func TestAppendFrame(t *testing.T) {
	got, err := AppendFrame(nil, JSON, Framing{}, "", "m")
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\"topic\":\"none\",\"message\":\"m\"}\x00\x00"; string(got) != want {
		t.Fatalf("got %q want %q", got, want)
	}
	got, _ = AppendFrame(nil, JSON, LegacyFraming, "t", nil)
	if want := `{"topic":"t","message":null}%EOM%`; string(got) != want {
		t.Fatalf("got %q want %q", got, want)
	}
	if NulFraming.String() != `"\x00\x00"` || (Framing{}).Delimiter() != "\x00\x00" || LegacyFraming.Delimiter() != "%EOM%" {
		t.Fatal("Framing delimiters")
	}
}

type splitCase struct {
	frame   string
	topic   string
	payload string // "<nil>" for a nil payload
	err     error
}

func TestSplitEnvelope(t *testing.T) {
	cases := []splitCase{
		{`{"topic":"hello","message":"world"}`, "hello", `"world"`, nil},
		{`{"message":{"a":[1,2]},"topic":"rev"}`, "rev", `{"a":[1,2]}`, nil},
		{" \t\r\n{ \"topic\" : \"ws\" ,\n \"message\" : [ 1 , 2 ] } \n", "ws", "[ 1 , 2 ]", nil},
		{`{"extra":{"topic":"inner","message":1},"topic":"outer","x":[{"message":2}],"message":3,"y":null}`, "outer", "3", nil},
		{`{"topic":"only"}`, "only", "<nil>", nil},
		{`{"topic":"n","message":null}`, "n", "null", nil},
		{`{"topic":"a","topic":"b","message":1,"message":2}`, "b", "2", nil},
		{`{"topic":1,"topic":"late"}`, "late", "<nil>", nil},
		{`{"topic":"early","topic":1}`, "", "", ErrNoTopic},
		{`{"topic":null,"message":1}`, "", "", ErrNoTopic},
		{`{"topic":["a"]}`, "", "", ErrNoTopic},
		{`{"message":1}`, "", "", ErrNoTopic},
		{`{}`, "", "", ErrNoTopic},
		{`{"Topic":"case matters","message":1}`, "", "", ErrNoTopic},
		{`{"\u0074opic":"escaped name","m\u0065ssage":true}`, "escaped name", "true", nil},
		{`{"topic":"esc\"aped\\ \/ \u00e9\ud83d\ude00 \n","message":""}`, "esc\"aped\\ / é😀 \n", `""`, nil},
		{`{"topic":"lone \ud800 x","message":0}`, "lone \ufffd x", "0", nil},
		{"{\"topic\":\"bad \xff utf8\",\"message\":0}", "bad \ufffd utf8", "0", nil},
		{`{"topic":"日本語","message":"😀"}`, "日本語", `"😀"`, nil},
		{`{"topic":"","message":-1.5e-3}`, "", "-1.5e-3", nil},
		{``, "", "", ErrNotJSON},
		{`   `, "", "", ErrNotJSON},
		{`{`, "", "", ErrNotJSON},
		{`{"topic":"x"`, "", "", ErrNotJSON},
		{`{"topic":"x",}`, "", "", ErrNotJSON},
		{`{"topic":"x"}}`, "", "", ErrNotJSON},
		{`{"topic":"x"} x`, "", "", ErrNotJSON},
		{`{"topic":"x","message":01}`, "", "", ErrNotJSON},
		{`{"topic":"x","message":[1,]}`, "", "", ErrNotJSON},
		{`{"topic":"x","message":{"a"}}`, "", "", ErrNotJSON},
		{`{"topic":"x","message":tru}`, "", "", ErrNotJSON},
		{`{"topic":"x","message":"\x"}`, "", "", ErrNotJSON},
		{"{\"topic\":\"x\x01\"}", "", "", ErrNotJSON},
		{`{'topic':"x"}`, "", "", ErrNotJSON},
		{`{topic:"x"}`, "", "", ErrNotJSON},
		{`{"topic":"x","message":NaN}`, "", "", ErrNotJSON},
		{"\ufeff{\"topic\":\"bom\"}", "", "", ErrNotJSON},
		{`[{"topic":"x"}]`, "", "", ErrNotObject},
		{`"topic"`, "", "", ErrNotObject},
		{`null`, "", "", ErrNotObject},
		{` 12 `, "", "", ErrNotObject},
		{`[1,`, "", "", ErrNotJSON},
		{`{"topic":"deep","message":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`, "deep", strings.Repeat("[", 9999) + strings.Repeat("]", 9999), nil},
		{`{"topic":"deep","message":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`, "", "", ErrNotJSON},
	}
	for _, c := range cases {
		topic, payload, err := JSON.SplitEnvelope([]byte(c.frame))
		name := c.frame
		if len(name) > 80 {
			name = name[:80]
		}
		if c.err != nil {
			if err != c.err {
				t.Errorf("%q: err %v, want %v", name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", name, err)
			continue
		}
		p := string(payload)
		if payload == nil {
			p = "<nil>"
		}
		if string(topic) != c.topic || p != c.payload {
			t.Errorf("%q: got topic %q payload %q, want %q %q", name, topic, p, c.topic, c.payload)
		}
		checkAgainstEncodingJSON(t, []byte(c.frame))
	}
}

func TestSplitEnvelopeAliases(t *testing.T) {
	frame := []byte(`{"topic":"hello","message":"world"}`)
	topic, payload, err := JSON.SplitEnvelope(frame)
	if err != nil {
		t.Fatal(err)
	}
	if &topic[0] != &frame[10] || &payload[0] != &frame[27] {
		t.Fatal("topic and payload should alias the frame")
	}
	// Appending to them must not overwrite the frame.
	_ = append(topic, "XXXXXXXX"...)
	_ = append(payload, "XXXXXXXX"...)
	if string(frame) != `{"topic":"hello","message":"world"}` {
		t.Fatalf("frame overwritten: %s", frame)
	}
}

func TestSplitEnvelopeZeroAllocs(t *testing.T) {
	frames := [][]byte{
		[]byte(`{"topic":"hello","message":"12:abcdefghijklmnopqrstuvwxyzabcdef"}`),
		[]byte(`{"topic":"obj","message":{"a":[1,2.5,true,null,{"b":"c"}],"d":"日本"}}`),
		[]byte(`{"message":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],"topic":"nested"}`),
	}
	for _, f := range frames {
		allocs := testing.AllocsPerRun(100, func() {
			if _, _, err := JSON.SplitEnvelope(f); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs per SplitEnvelope, want 0", f, allocs)
		}
	}
}

func TestAppendEnvelopeAllocs(t *testing.T) {
	buf := make([]byte, 0, 4096)
	for _, v := range []any{"a string payload", 12.5, nil, true, json.RawMessage(`{"a":1}`), []any{"x", 1.0}} {
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := JSON.AppendEnvelope(buf[:0], "topic", v); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%T: %v allocs per AppendEnvelope, want 0", v, allocs)
		}
	}
}

func TestUnmarshal(t *testing.T) {
	check := func(payload string, v any, want any) {
		t.Helper()
		var p []byte
		if payload != "<nil>" {
			p = []byte(payload)
		}
		if err := JSON.Unmarshal(p, v); err != nil {
			t.Errorf("%s into %T: %v", payload, v, err)
			return
		}
		if got := reflect.ValueOf(v).Elem().Interface(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s into %T: got %#v want %#v", payload, v, got, want)
		}
	}
	check("<nil>", new(any), nil)
	check("", new(any), nil)
	check("<nil>", new(json.RawMessage), json.RawMessage("null"))
	check(`"s"`, new(any), "s")
	check(`"s\n"`, new(any), "s\n")
	check(`12.5`, new(any), 12.5)
	check(`-0`, new(any), math.Copysign(0, -1))
	check(`true`, new(any), true)
	check(`false`, new(any), false)
	check(`null`, new(any), nil)
	check(`{"a":[1,"b"]}`, new(any), map[string]any{"a": []any{1.0, "b"}})
	check(`"plain"`, new(string), "plain")
	check(`"\u00e9"`, new(string), "é")
	check(` [1, 2] `, new(json.RawMessage), json.RawMessage(`[1, 2]`)) // as encoding/json: no surrounding space
	check(`{"zeta":3,"alpha":"x"}`, new(orderedStruct), orderedStruct{3, "x"})
	s := "unchanged"
	check(`null`, &s, "unchanged")

	var i any = &s
	if err := JSON.Unmarshal([]byte(`"through pointer"`), &i); err != nil || s != "through pointer" {
		t.Errorf("Unmarshal into *any holding *string: %v, %q", err, s)
	}

	for _, c := range []struct {
		payload string
		v       any
	}{
		{`1e400`, new(any)}, {`"x`, new(any)}, {`{`, new(json.RawMessage)}, {`"x"`, new(int)}, {`nul`, new(any)},
		{`"\x"`, new(string)}, {`1`, nil}, {`1`, orderedStruct{}},
	} {
		if err := JSON.Unmarshal([]byte(c.payload), c.v); err == nil {
			t.Errorf("%s into %T: no error", c.payload, c.v)
		}
	}
}

// appendValidCompact (json.RawMessage payloads on Send) must say what
// json.Valid says and write what json.Compact writes, in one pass or two.
func TestAppendValidCompactMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{
		``, ` `, `1`, ` 1 `, `[1,2]`, `[1, 2]`, "[\n1\t,2\r]", `{"a":1}`, `{"a" :1}`, `{"a": 1}`,
		`{ "a":1}`, `{"a":1 }`, `{"a":1, "b":[ ]}`, `{"a":"x y"}`, `[{"a":[{"b":" "}]} ,1]`, `[1 2]`,
		`{"a":}`, `"\" "`, ` {} `, `{ }`, `[ ]`, `{"a":{"b":{}}, "c":"\u00e9 \""}`,
	} {
		checkAppendValidCompact(t, []byte(s))
	}
}

func checkAppendValidCompact(t *testing.T, src []byte) {
	t.Helper()
	got, ok := appendValidCompact([]byte("prefix"), src)
	if want := json.Valid(src); ok != want {
		t.Fatalf("appendValidCompact(%q) valid = %v, json.Valid says %v", src, ok, want)
	}
	if !ok {
		if string(got) != "prefix" {
			t.Fatalf("appendValidCompact(%q) invalid but wrote %q", src, got)
		}
		return
	}
	var want bytes.Buffer
	want.WriteString("prefix")
	if err := json.Compact(&want, src); err != nil {
		t.Fatalf("json.Compact(%q): %v", src, err)
	}
	if string(got) != want.String() {
		t.Fatalf("appendValidCompact(%q) = %q, json.Compact gives %q", src, got, want.String())
	}
}

func FuzzAppendValidCompact(f *testing.F) {
	for _, s := range []string{`{"a": [1, 2, {"b" : "c d"}]}`, `[1,2]`, " \"x\" ", `{"a":1 "b":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(checkAppendValidCompact)
}

func TestValidJSONMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{
		``, ` `, `1`, `-`, `-0`, `-01`, `0.`, `0.1`, `1e`, `1e+`, `1E-5`, `1.5e10`, `.5`, `+1`, `0x1`,
		`"`, `""`, `"\u12"`, `"\u12g4"`, `"\uABCD"`, `"\/"`, `"\'"`, "\"\x7f\"", "\"\x1f\"", "\"\xff\"",
		`[`, `[]`, `[,]`, `[1 2]`, `[1,2]`, `{"a":1 "b":2}`, `{"a" 1}`, `{1:2}`, `{"a":}`, `{"a":1}`,
		`true`, `tru`, `truee`, `nulll`, `false `, ` {} `, `{}{}`, `[][]`, "\n[\t1\r]\n",
	} {
		if got, want := validJSON([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("validJSON(%q) = %v, json.Valid says %v", s, got, want)
		}
	}
}
