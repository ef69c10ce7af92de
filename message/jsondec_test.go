package message

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// The types below cover what a listener's parameter can be: every kind
// encoding/json decodes, tags and their options, embedded fields, custom
// unmarshalers, recursive types, names that only match case-insensitively.

type diffInner struct {
	A int      `json:"a"`
	B string   // no tag: matched by its Go name
	C *float64 `json:"c,omitempty"`
}

type diffEmbedded struct {
	diffInner
	X int `json:"x"`
}

type diffEmbeddedPtr struct {
	*diffInner
	A string `json:"a"`
}

type diffUnmarshaler struct{ Got string }

func (u *diffUnmarshaler) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '[' {
		return errors.New("no arrays, thanks")
	}
	u.Got = "custom:" + string(b)
	return nil
}

type diffText string

func (t *diffText) UnmarshalText(b []byte) error {
	if strings.Contains(string(b), "bad") {
		return errors.New("bad text")
	}
	*t = diffText("text:" + string(b))
	return nil
}

type diffKey string

type diffAny interface{}

type diffAll struct {
	S        string  `json:"s"`
	I        int     `json:"i"`
	I8       int8    `json:"i8"`
	I64      int64   `json:"i64"`
	U16      uint16  `json:"u16"`
	U        uint    `json:"u"`
	F32      float32 `json:"f32"`
	F        float64 `json:"f"`
	Bo       bool    `json:"b"`
	P        *int    `json:"p"`
	PP       **string
	Any      any                  `json:"any"`
	NamedAny diffAny              `json:"nany"`
	M        map[string]int       `json:"m"`
	MA       map[string]any       `json:"ma"`
	MK       map[diffKey]string   `json:"mk"`
	MT       map[diffText]int     `json:"mt"`
	MI       map[int]string       `json:"mi"`
	MS       map[string]diffInner `json:"ms"`
	Sl       []diffInner          `json:"sl"`
	SS       []string             `json:"ss"`
	SP       []*int               `json:"sp"`
	SA       []any                `json:"sa"`
	Bytes    []byte               `json:"bytes"`
	Arr      [2]int               `json:"arr"`
	Inner    diffInner            `json:"inner"`
	PInner   *diffInner           `json:"pinner"`
	Quoted   int                  `json:"quoted,string"`
	Skip     int                  `json:"-"`
	//lint:ignore SA5008 the tag "-," names a field "-": encoding/json's rule, under test
	Dash   int                           `json:"-,"`
	Num    json.Number                   `json:"num"`
	Raw    json.RawMessage               `json:"raw"`
	Custom diffUnmarshaler               `json:"custom"`
	Text   diffText                      `json:"text"`
	Ifc    fmt.Stringer                  `json:"ifc"`
	Err    error                         `json:"err"`
	Self   *diffAll                      `json:"self"`
	Nested map[string][]map[string]*bool `json:"nested"`
	Omit   string                        `json:"omit,omitempty"`
	Upper  int                           `json:"UPPER"`
	Mixed  int                           `json:"MiXeD"`
	//lint:ignore U1000 encoding/json must skip unexported fields, under test
	unexported int
}

// diffMarshal and diffTextM marshal themselves: encoding/json calls them
// (diffTextM's method only on addressable values), the fast path does not.
type diffMarshal struct{ V int }

func (m diffMarshal) MarshalJSON() ([]byte, error) {
	if m.V < 0 {
		return nil, errors.New("negative")
	}
	return fmt.Appendf(nil, `{ "m" : %d, "html": "<&>" }`, m.V), nil
}

type diffTextM struct{ V string }

func (m *diffTextM) MarshalText() ([]byte, error) { return []byte("t:" + m.V), nil }

// diffOmit exercises omitempty on every kind.
type diffOmit struct {
	S   string          `json:"s,omitempty"`
	I   int             `json:"i,omitempty"`
	U8  uint8           `json:"u8,omitempty"`
	F   float64         `json:"f,omitempty"`
	F32 float32         `json:"f32,omitempty"`
	B   bool            `json:"b,omitempty"`
	P   *diffInner      `json:"p,omitempty"`
	M   map[string]int  `json:"m,omitempty"`
	Sl  []string        `json:"sl,omitempty"`
	A   any             `json:"a,omitempty"`
	St  diffInner       `json:"st,omitempty"`
	MP  map[string]*int `json:"mp"`
	Str fmt.Stringer    `json:"str"`
}

type diffMarshalers struct {
	Mar diffMarshal  `json:"mar"`
	PM  *diffMarshal `json:"pm"`
	TM  diffTextM    `json:"tm"`
	PTM *diffTextM   `json:"ptm"`
}

type diffFold struct {
	Long  string `json:"ſ"` // folds to "S"
	K     int    `json:"k"`
	Plain string `json:"plain"`
}

// diffDup has two fields named "x" (made with reflect, as vet rightly
// rejects such a struct literal): encoding/json's dominance rules drop both.
var diffDup = reflect.StructOf([]reflect.StructField{
	{Name: "A", Type: reflect.TypeFor[int](), Tag: `json:"x"`},
	{Name: "B", Type: reflect.TypeFor[int](), Tag: `json:"x"`},
	{Name: "C", Type: reflect.TypeFor[int](), Tag: `json:"y"`},
})

type diffBadTag struct {
	//lint:ignore SA5008 a malformed tag name, which encoding/json ignores, under test
	A int `json:"a\\b"`
	B int `json:"ok"`
}

type diffWide struct {
	F0, F1, F2, F3, F4, F5, F6, F7, F8, F9           int
	F10, F11, F12, F13, F14, F15, F16, F17, F18, F19 string
}

type diffList struct {
	Next *diffList `json:"next"`
	V    int       `json:"v"`
}

// diffTargets are the types every differential input is decoded into.
var diffTargets = []reflect.Type{
	reflect.TypeFor[diffAll](),
	reflect.TypeFor[diffInner](),
	reflect.TypeFor[diffOmit](),
	reflect.TypeFor[diffMarshalers](),
	reflect.TypeFor[diffEmbedded](),
	reflect.TypeFor[diffEmbeddedPtr](),
	reflect.TypeFor[diffFold](),
	diffDup,
	reflect.TypeFor[diffBadTag](),
	reflect.TypeFor[diffWide](),
	reflect.TypeFor[diffList](),
	reflect.TypeFor[*diffInner](),
	reflect.TypeFor[any](),
	reflect.TypeFor[map[string]any](),
	reflect.TypeFor[map[string]int](),
	reflect.TypeFor[map[diffKey]*diffInner](),
	reflect.TypeFor[[]any](),
	reflect.TypeFor[[]int](),
	reflect.TypeFor[[]*uint8](),
	reflect.TypeFor[[][]string](),
	reflect.TypeFor[string](),
	reflect.TypeFor[int](),
	reflect.TypeFor[int16](),
	reflect.TypeFor[uint32](),
	reflect.TypeFor[float32](),
	reflect.TypeFor[float64](),
	reflect.TypeFor[bool](),
	reflect.TypeFor[diffUnmarshaler](),
	reflect.TypeFor[diffText](),
	reflect.TypeFor[json.RawMessage](),
}

// checkUnmarshalDifferential decodes data into a fresh value of every
// target type with JSON.Unmarshal and with encoding/json: the values must
// be deeply equal, and one must fail exactly when the other does, with the
// same message. (An empty payload, a frame without "message", reads as null.)
func checkUnmarshalDifferential(t *testing.T, data []byte) {
	t.Helper()
	wantData := data
	if len(data) == 0 {
		wantData = []byte("null")
	}
	for _, typ := range diffTargets {
		got, want := reflect.New(typ), reflect.New(typ)
		gotErr := JSON.Unmarshal(data, got.Interface())
		wantErr := json.Unmarshal(wantData, want.Interface())
		if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
			t.Fatalf("%q into %v: error %v, encoding/json says %v", data, typ, gotErr, wantErr)
		}
		if !reflect.DeepEqual(got.Interface(), want.Interface()) {
			t.Fatalf("%q into %v:\n got %#v\nwant %#v", data, typ, got.Elem().Interface(), want.Elem().Interface())
		}
		if wantErr == nil {
			checkEncodeDifferential(t, got.Elem().Interface())
			checkEncodeDifferential(t, got.Interface())
		}
	}
}

// checkEncodeDifferential encodes v with appendJSON (what AppendEnvelope
// writes as the message) and with a json.Encoder with SetEscapeHTML(false):
// the bytes must be identical, and one must fail exactly when the other does.
func checkEncodeDifferential(t *testing.T, v any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	wantErr := enc.Encode(v)
	want := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	got, gotErr := appendJSON([]byte("prefix"), v)
	if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
		t.Fatalf("encode %#v: error %v, encoding/json says %v", v, gotErr, wantErr)
	}
	if gotErr == nil && string(got) != "prefix"+string(want) {
		t.Fatalf("encode %#v:\n got %s\nwant prefix%s", v, got, want)
	}
}

var diffSeeds = []string{
	// plain values of every kind
	`{"s":"x","i":-12,"i8":127,"i64":-9223372036854775808,"u16":65535,"u":0,"f32":1.5,"f":-2.5e-3,"b":true,"p":7,"PP":"pp"}`,
	`{"any":{"a":[1,"two",null,true,{"b":false}]},"nany":[1.5],"m":{"a":1,"b":2},"ma":{"x":{"y":[]}},"mk":{"k":"v"}}`,
	`{"ms":{"one":{"a":1,"B":"b","c":2.5}},"sl":[{"a":1},{"B":"x"},{}],"ss":["a","b"],"sp":[1,null,3],"sa":[[],{}]}`,
	`{"inner":{"a":1,"B":"b","c":null},"pinner":{"a":2},"self":{"s":"inner","self":null},"nested":{"k":[{"t":true,"n":null}]}}`,
	`{"omit":"","UPPER":1,"MiXeD":2}`,
	// things only encoding/json handles: custom unmarshalers, ",string", arrays, []byte, non-string keys
	`{"custom":{"x":1},"text":"hello","mt":{"k":1},"mi":{"1":"one"},"bytes":"aGVsbG8=","arr":[1,2,3],"quoted":"12","num":12.5,"raw":{"a":1}}`,
	`{"custom":[1]}`, `{"text":"bad"}`, `{"mt":{"bad":1}}`, `{"quoted":12}`, `{"bytes":[1,2]}`, `{"ifc":null}`, `{"ifc":"x"}`, `{"err":{}}`,
	// case-insensitive and near-miss names, repeated and unknown members, escaped names
	`{"S":"upper","I":1,"upper":3,"mixed":4,"MIXED":5}`,
	`{"s":"a","s":"b"}`, `{"inner":{"a":1},"inner":{"B":"x"}}`, `{"sl":[{"a":1}],"sl":[{"B":"x"}]}`,
	`{"unknown":{"deep":[1,2,{"x":null}]},"s":"kept","other":1e999}`,
	`{"\u0073":"escaped name","i\u0038":5}`, `{"ſ":"long s","s":"x","K":1,"k":2,"plain":"p","PLAIN":"q"}`,
	`{"K":3}`, `{"x":1,"y":2}`, `{"a\\b":1,"ok":2,"A\\B":3}`, `{"F0":1,"f19":"x","F19":"y"}`,
	`{"a":1,"B":"b","A":2,"b":"c"}`, `{"x":1,"a":2,"diffInner":{"a":3}}`, `{"a":"s","B":"b"}`,
	`{"next":{"next":{"next":null,"v":3},"v":2},"v":1}`,
	`{"s":"x","i":1,"u8":2,"f":-0,"f32":0.5,"b":true,"p":{"a":1},"m":{"z":1,"a":2},"sl":[],"a":0,"st":{},"mar":{"V":3},"pm":{"V":-1},"tm":{"V":"x"},"ptm":{"V":"y"},"mp":{"b":null,"a":1}}`,
	`{"a":false,"m":{},"sl":null,"p":null,"mar":{"V":-2}}`, `{"a":"<&>\u2028","s":"\u007f\ud800"}`,
	// type mismatches
	`{"s":1}`, `{"i":"1"}`, `{"i":1.0}`, `{"i":1e2}`, `{"i8":128}`, `{"i8":-129}`, `{"u16":-1}`, `{"u":-0}`, `{"i":-0}`,
	`{"i64":9223372036854775808}`, `{"f32":3.5e38}`, `{"f":1e400}`, `{"f":-1e-400}`, `{"b":"true"}`, `{"b":0}`,
	`{"m":[]}`, `{"m":{"a":"x"}}`, `{"sl":{}}`, `{"ss":[1]}`, `{"inner":[]}`, `{"p":"x"}`, `{"any":1e400}`, `{"ma":{"a":1e400}}`,
	`{"i":1,"s":2,"f":3}`, `{"s":"ok","i":"bad","f":1.5}`,
	// big numbers and number forms
	`123456789012345678901234567890`, `-0`, `0.1`, `1E+2`, `1e-7`, `-9223372036854775808`, `4294967295`, `4294967296`,
	`340282346638528859811704183484516925440`, `1.7976931348623157e308`, `5e-324`, `65535`, `32768`, `-32768`,
	// top-level values of every kind
	`null`, `true`, `false`, `"str"`, `"\u00e9\ud83d\ude00\ud800x"`, "\"\xff\xfe\"", `[]`, `{}`, `[1,"a",null]`, `[[1],[2,3]]`,
	`{"a":null}`, `[null,1]`, `{"a":{"a":1,"B":"x"}}`, ` {"s" : "spaced" , "i" : 2 } `, "\t[ 1 , 2 ]\n",
	// invalid JSON
	``, ` `, `{`, `{"s":"x",}`, `[1,]`, `{"s":"x"} x`, `{"s":tru}`, `nul`, `01`, `1.`, `"\x"`, `{"a" 1}`, `[1 2]`,
	"{\"s\":\"\x01\"}", `{"i":1}}`, `{"self":{"self":{"self":{"self":`,
}

func init() { diffSeeds = append(diffSeeds, largeSeeds()...) }

// largeSeeds are objects and arrays larger than the decoder keeps on its
// own stack frame (objectMembers, arrayElems), nested in each other, with a
// name repeated across that boundary, and payloads with more numbers and
// strings than their first chunks hold, in sizes on both sides of the
// chunk-size steps (256 and 1024 bytes) and of the shared copy's limit.
func largeSeeds() []string {
	members := func(n int, value func(k int) string) string {
		var b strings.Builder
		b.WriteString("{")
		for k := range n {
			if k > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"m%d":%s`, k%19, value(k)) // m0..m2 repeat past the 16th member
		}
		b.WriteString("}")
		return b.String()
	}
	elems := func(n int, value func(k int) string) string {
		var b strings.Builder
		b.WriteString("[")
		for k := range n {
			if k > 0 {
				b.WriteString(",")
			}
			b.WriteString(value(k))
		}
		b.WriteString("]")
		return b.String()
	}
	num := func(k int) string { return fmt.Sprintf("%d.%d", k, k%7) }
	str := func(k int) string { return fmt.Sprintf(`"v%d"`, k) }
	mixed := func(k int) string {
		switch k % 4 {
		case 0:
			return num(k)
		case 1:
			return str(k)
		case 2:
			return elems(k%11, num)
		}
		return members(k%18, str)
	}
	var seeds []string
	for _, n := range []int{8, 9, 16, 17, 22, 40} {
		seeds = append(seeds, members(n, num), members(n, str), members(n, mixed),
			elems(n, num), elems(n, str), elems(n, mixed))
	}
	seeds = append(seeds,
		members(20, func(k int) string { return members(20, func(j int) string { return elems(12, mixed) }) }),
		elems(30, func(k int) string { return members(k, mixed) }),
		elems(600, mixed), // beyond the shared copy's 4 KiB
		members(17, func(int) string { return `"` + strings.Repeat("x", 300) + `"` }), // long strings
		` { "a" : [ 1 , 2 , 3 , 4 , 5 , 6 , 7 , 8 , 9 , 10 ] , "b" : { "c" : "d" } } `,
	)
	return seeds
}

func TestUnmarshalDifferential(t *testing.T) {
	for _, s := range diffSeeds {
		checkUnmarshalDifferential(t, []byte(s))
	}
	deep := strings.Repeat(`{"self":`, 600) + `null` + strings.Repeat(`}`, 600)
	checkUnmarshalDifferential(t, []byte(deep))
	deepAny := strings.Repeat(`[`, 10001) + strings.Repeat(`]`, 10001)
	checkUnmarshalDifferential(t, []byte(deepAny))
	deepAny = strings.Repeat(`[`, 10000) + strings.Repeat(`]`, 10000)
	checkUnmarshalDifferential(t, []byte(deepAny))
}

func FuzzUnmarshalDifferential(f *testing.F) {
	for _, s := range diffSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkUnmarshalDifferential(t, data)
	})
}

// TestUnmarshalFastPathTaken checks that ordinary payloads are decoded by
// the fast path, not handed to encoding/json (which would be correct, but slow).
func TestUnmarshalFastPathTaken(t *testing.T) {
	for _, c := range []struct {
		payload string
		into    any
	}{
		{benchOrderJSON, new(benchOrder)},
		{`{"s":"x","i":1,"any":{"a":[1]},"m":{"a":1},"sl":[{"a":1}],"pinner":{"B":"b"},"unknown":[1,2]}`, new(diffAll)},
		{`{"a":[1,"x",null,true,{"b":false}]}`, new(map[string]any)},
		{`[1,2,3]`, new([]int)},
		{`"é"`, new(string)},
	} {
		if !fastUnmarshal([]byte(c.payload), c.into) {
			t.Errorf("%s into %T: the fast path gave up", c.payload, c.into)
		}
	}
	for _, payload := range append([]string{benchOrderJSON}, largeSeeds()...) {
		if _, ok := fastUnmarshalAny([]byte(payload)); !ok {
			t.Errorf("%.80s... into any: the fast path gave up", payload)
		}
	}
	for _, c := range []struct {
		payload string
		into    any
	}{
		{`{"S":"case-insensitive match"}`, new(diffAll)},
		{`{"custom":1}`, new(diffAll)},
		{`{"i":1.5}`, new(diffAll)},
		{`{"a":1}`, new(diffEmbedded)},
	} {
		if fastUnmarshal([]byte(c.payload), c.into) {
			t.Errorf("%s into %T: the fast path should have given up", c.payload, c.into)
		}
		if !reflect.ValueOf(c.into).Elem().IsZero() {
			t.Errorf("%s into %T: the fast path gave up but left %+v", c.payload, c.into, c.into)
		}
	}
}

// TestUnmarshalIntoNonZero: a target that already holds a value is decoded
// into by encoding/json, which merges (the fast path only fills zero values).
func TestUnmarshalIntoNonZero(t *testing.T) {
	got := diffInner{A: 1, B: "kept"}
	want := got
	payload := []byte(`{"a":2}`)
	if err := JSON.Unmarshal(payload, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(payload, &want); err != nil {
		t.Fatal(err)
	}
	if got != want || got.B != "kept" {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

// TestDecodedArraysAreIndependent: arrays decoded into any share chunks of
// memory, each cut at its own length, so that appending to one never
// writes into another, and writing into one leaves the others as they were.
func TestDecodedArraysAreIndependent(t *testing.T) {
	var v any
	if err := JSON.Unmarshal([]byte(`[[1,2],[3],[],{"a":["x"]},[4,5,6,7,8,9,10,11,12]]`), &v); err != nil {
		t.Fatal(err)
	}
	outer := v.([]any)
	first, second := outer[0].([]any), outer[1].([]any)
	for _, a := range []any{outer, first, second, outer[2], outer[3].(map[string]any)["a"], outer[4]} {
		if s := a.([]any); len(s) != cap(s) || s == nil {
			t.Fatalf("%v: len %d, cap %d, nil %v: want len == cap, not nil", s, len(s), cap(s), s == nil)
		}
	}
	first = append(first, "appended")
	first[0] = "changed"
	want := []any{[]any{1.0, 2.0}, []any{3.0}, []any{}, map[string]any{"a": []any{"x"}}, []any{4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0}}
	want[0] = first
	if !reflect.DeepEqual(outer[1:], want[1:]) || !reflect.DeepEqual(second, []any{3.0}) {
		t.Fatalf("after appending to the first array: %v, want the others as %v", outer, want)
	}
}

// TestEncodeFastPathTaken checks that ordinary structs are encoded by the
// typed plan, not handed to encoding/json.
func TestEncodeFastPathTaken(t *testing.T) {
	order := benchOrderValue(t)
	one := 1
	for _, v := range []any{
		order, &order, diffInner{A: 1, B: "b"}, []diffInner{{}}, map[string]diffInner{"k": {}},
		diffOmit{S: "x", P: &diffInner{}, M: map[string]int{"b": 1, "a": 2}, A: []any{1.5}, MP: map[string]*int{"x": &one}},
	} {
		if _, err := appendTyped(nil, v, 0); err != nil {
			t.Errorf("%T: the fast path gave up: %v", v, err)
		}
	}
	for _, v := range []any{diffMarshalers{}, diffAll{}, diffEmbedded{}, diffOmit{F: math.NaN()}} {
		if _, err := appendTyped(nil, v, 0); err != errSlowPath {
			t.Errorf("%T: the fast path should have given up, got %v", v, err)
		}
	}
}

// TestAppendShortDecimal compares the short-decimal path of appendFloat with
// strconv's shortest formatting over prices, whole numbers and neighbours.
func TestAppendShortDecimal(t *testing.T) {
	check := func(f float64) {
		got, ok := appendShortDecimal(nil, f)
		if !ok {
			return
		}
		if want := strconv.FormatFloat(f, 'f', -1, 64); string(got) != want {
			t.Fatalf("%v (%b): got %s, want %s", f, math.Float64bits(f), got, want)
		}
	}
	for n := -200000; n <= 200000; n++ {
		for _, scale := range []float64{1, 10, 100, 1000} {
			f := float64(n) / scale
			check(f)
			check(math.Nextafter(f, math.Inf(1)))
			check(math.Nextafter(f, math.Inf(-1)))
		}
	}
	for _, f := range []float64{1e12, 9.99999999999999e12, 1e13 - 0.01, 123456789012.34, 0.1 + 0.2, 1.005, 2.675, -0.5, 4503599627370495.5} {
		check(f)
		check(math.Nextafter(f, 0))
	}
}

// parseShortFloat must give strconv.ParseFloat's float64, bit for bit, or
// decline.
func TestParseShortFloatMatchesStrconv(t *testing.T) {
	check := func(s string) {
		t.Helper()
		got, ok := parseShortFloat([]byte(s))
		if !ok {
			return
		}
		want, err := strconv.ParseFloat(s, 64)
		if err != nil || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("parseShortFloat(%q) = %v (%x), strconv gives %v (%x), %v", s, got, math.Float64bits(got), want, math.Float64bits(want), err)
		}
	}
	for _, s := range []string{"0", "-0", "-0.0", "0.1", "0.3", "1.005", "19.99", "123456789012345", "-123456789012345",
		"999999999999999", "0.000000000000001", "9007199254740993", "1234567890123456", "1.23456789012345", "3.14159"} {
		check(s)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		digits := 1 + rng.IntN(16)
		var b []byte
		if rng.IntN(4) == 0 {
			b = append(b, '-')
		}
		dot := rng.IntN(digits + 1)
		for k := range digits {
			if k == dot && k > 0 {
				b = append(b, '.')
			}
			c := byte('0' + rng.IntN(10))
			if k == 0 && (c == '0' && dot != 1) {
				c = '1'
			}
			b = append(b, c)
		}
		check(string(b))
	}
	if _, ok := parseShortFloat([]byte("1e5")); ok {
		t.Error("parseShortFloat took an exponent")
	}
	if _, ok := parseShortFloat([]byte("1234567890123456")); ok {
		t.Error("parseShortFloat took 16 digits")
	}
}

// TestFloatMatchesScanNumberAndStrconv: the number decoder of decoding into
// any ends where scanNumber ends and gives strconv.ParseFloat's value bit
// for bit (on short numbers it parses itself and on the rest it leaves to
// strconv), and fails where either fails.
func TestFloatMatchesScanNumberAndStrconv(t *testing.T) {
	check := func(s string) {
		t.Helper()
		d := decodeState{b: []byte(s)}
		got, end := d.float(0)
		scanned := scanNumber(d.b, 0)
		if scanned < 0 {
			if end >= 0 {
				t.Fatalf("float(%q) ends at %d, scanNumber finds no number", s, end)
			}
			return
		}
		want, err := strconv.ParseFloat(s[:scanned], 64)
		if err != nil { // out of range: left to encoding/json
			if end >= 0 {
				t.Fatalf("float(%q) = %v, strconv: %v", s, got, err)
			}
			return
		}
		if end != scanned || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("float(%q) = %v (%x), strconv gives %v (%x), %v", s, got, math.Float64bits(got), want, math.Float64bits(want), err)
		}
	}
	for _, s := range []string{"0", "-0", "-0.0", "0.1", "1.005", "19.99", "123456789012345", "-123456789012345",
		"1234567890123456", "9007199254740993", "0.000000000000001", "1.23456789012345", "1e5", "1E-3", "-2.5e+10",
		"01", "-01", "00.5", "-", "1.", "-.5", ".5", "1.e3", "1e", "1e+", "12,", "3.25]", "7}", "0x10", "1.5.5",
		"99999999999999999999999", "1e400", "-1e400", "123456789012345678901234567890.5", "-x", "+1", "1.5e3e3"} {
		check(s)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	const alphabet = "0123456789.-eE+"
	for range 200000 {
		b := make([]byte, 1+rng.IntN(20))
		for k := range b {
			if rng.IntN(3) == 0 {
				b[k] = alphabet[rng.IntN(len(alphabet))]
			} else {
				b[k] = byte('0' + rng.IntN(10))
			}
		}
		check(string(b))
	}
}
