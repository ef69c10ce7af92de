package message

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// This file decodes JSON payloads into Go values without encoding/json's
// reflection walk: each target type gets a decode plan, made once and
// cached, and the payload is decoded straight from the frame's bytes.
//
// The fast path only ever succeeds when it is certain it produced exactly
// what encoding/json would. It gives up on anything it does not handle or
// anything encoding/json would report as an error: a type mismatch, a
// number out of range, a custom UnmarshalJSON or UnmarshalText, a member
// name that matches a field only case-insensitively, a repeated member, an
// embedded struct, a ",string" field, and so on. Unmarshal then resets the
// target to its zero value and lets encoding/json decode it, which gives
// encoding/json's own result and error. FuzzUnmarshalDifferential checks
// this against encoding/json.

// maxDecodeDepth bounds the fast path's recursion; deeper values are left
// to encoding/json (whose own limit is 10000).
const maxDecodeDepth = 512

// maxSharedSource: a payload up to this size is copied into one string that
// the decoded strings share (one allocation for all of them); a larger one
// gets a string per value, so that a kept string does not pin it whole.
const maxSharedSource = 4 << 10

// decodeState is one decode's scratch.
type decodeState struct {
	b     []byte
	src   string // b as a string, made when the first string is decoded
	depth int32  // containers open around the current value

	// Decoding into any: how many numbers share's allocation has room
	// for, whether takeBoxes was called, and whether the payload is an
	// object, whose names need the shared copy anyway (small fields
	// together: the typed path's decodeState is on the heap).
	floatRoom uint8
	boxed     bool
	named     bool

	// For decoding into any: the members of the objects being decoded
	// beyond the first objectMembers of each, which object holds itself (a
	// stack, so each map is made once at its final size), and chunks that
	// hold the boxed numbers and strings, so that boxing them does not
	// allocate each one on its own.
	members []member
	floats  []float64
	strs    []string

	// The same for arrays: the elements being decoded beyond the first
	// arrayElems of each (a stack, so each []any is made at its final
	// length), the chunk their backing arrays are cut from, and the chunk
	// that boxes their slice headers.
	elems   []any
	backing []any
	slices  [][]any

	// The most members and elements held at once (what to clear after),
	// and where the stacks came from, if taken.
	membersHigh, elemsHigh int32
	sc                     *scratch
}

type member struct {
	name  string
	value any
}

// decodeFunc decodes the JSON value at d.b[i] into the value of td's type
// at p, and returns the index just after it, or -1 to give up.
type decodeFunc func(td *typeDec, d *decodeState, i int, p unsafe.Pointer) int

// typeDec is the decode plan of one type.
type typeDec struct {
	t      reflect.Type
	decode decodeFunc
	elem   *typeDec     // pointer, slice, map: the element's plan
	size   uintptr      // slice: the element's size
	arr    reflect.Type // slice: [firstCap]elem, the first backing array
	bits   int          // numbers: the bit size

	// structs
	fields    []fieldDec
	byName    map[string]int // for structs with many fields
	foldCheck bool           // a field name is not ASCII: give up on any near miss
}

type fieldDec struct {
	name   string
	quoted string // `"name"` when name needs no escaping in JSON, else empty
	folded string // name with ASCII letters upper-cased, as encoding/json folds
	offset uintptr
	td     *typeDec
}

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	jsonNumberType      = reflect.TypeFor[json.Number]()
)

var decPlans planCache[*typeDec]

// decPlanFor returns the decode plan of t, making it on first use.
func decPlanFor(t reflect.Type) *typeDec { return decPlans.get(t, buildDec) }

func buildDec(t reflect.Type, building map[reflect.Type]*typeDec) *typeDec {
	if td, ok := decPlans.lookup(t, building); ok {
		return td
	}
	td := &typeDec{t: t, decode: decGiveUp}
	building[t] = td
	if customUnmarshaler(t) || t == jsonNumberType {
		return td
	}
	switch t.Kind() {
	case reflect.String:
		td.decode = decString
	case reflect.Bool:
		td.decode = decBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		td.decode, td.bits = decInt, t.Bits()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		td.decode, td.bits = decUint, t.Bits()
	case reflect.Float32, reflect.Float64:
		td.decode, td.bits = decFloat, t.Bits()
	case reflect.Interface:
		if t.NumMethod() == 0 {
			td.decode = decInterface
		}
	case reflect.Pointer:
		td.decode, td.elem = decPointer, buildDec(t.Elem(), building)
	case reflect.Slice:
		// A JSON string into []byte is base64; leave byte slices to encoding/json.
		if t.Elem().Kind() != reflect.Uint8 {
			td.decode, td.elem, td.size = decSlice, buildDec(t.Elem(), building), t.Elem().Size()
			td.arr = reflect.ArrayOf(firstCap, t.Elem())
		}
	case reflect.Map:
		kt := t.Key()
		if kt.Kind() == reflect.String && !customUnmarshaler(kt) {
			td.decode, td.elem = decMap, buildDec(t.Elem(), building)
			if t == reflect.TypeFor[map[string]any]() {
				td.decode = decMapAny
			}
		}
	case reflect.Struct:
		buildStruct(td, building)
	}
	return td
}

// customUnmarshaler reports whether encoding/json would hand a value of
// type t (or *t) to its own UnmarshalJSON or UnmarshalText.
func customUnmarshaler(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return t.Implements(jsonUnmarshalerType) || pt.Implements(jsonUnmarshalerType) ||
		t.Implements(textUnmarshalerType) || pt.Implements(textUnmarshalerType)
}

// buildStruct makes the plan of a struct: its exported fields under their
// JSON names. Structs whose field set needs encoding/json's full rules
// (embedded fields, repeated names, invalid tag names) are given up on.
func buildStruct(td *typeDec, building map[reflect.Type]*typeDec) {
	t := td.t
	var fields []fieldDec
	names := map[string]bool{}
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous {
			return // embedded fields: encoding/json's promotion rules
		}
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name != "" && !isValidTag(name) {
			return
		}
		if name == "" {
			name = sf.Name
		}
		if names[name] {
			return // encoding/json's dominance rules decide
		}
		names[name] = true
		f := fieldDec{name: name, folded: foldASCII(name), offset: sf.Offset, td: buildDec(sf.Type, building)}
		if !strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == '"' || r == '\\' || r == utf8.RuneError }) {
			f.quoted = `"` + name + `"`
		}
		if hasOption(opts, "string") {
			f.td = &typeDec{t: sf.Type, decode: decGiveUp}
		}
		for _, r := range name {
			if r >= utf8.RuneSelf {
				td.foldCheck = true
			}
		}
		fields = append(fields, f)
	}
	if len(fields) > 64 {
		return // the repeated-member check uses a 64-bit mask
	}
	td.fields = fields
	if len(fields) > 16 {
		td.byName = make(map[string]int, len(fields))
		for i, f := range fields {
			td.byName[f.name] = i
		}
	}
	td.decode = decStruct
}

func hasOption(opts, want string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == want {
			return true
		}
	}
	return false
}

// isValidTag is encoding/json's test of a tag's name.
func isValidTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

// foldASCII upper-cases the ASCII letters of s, as encoding/json folds names.
func foldASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

// fastUnmarshal decodes payload into v, a pointer to a zero value, and
// reports whether it did so exactly as encoding/json would. When it returns
// false, *v is zero, as it was.
func fastUnmarshal(payload []byte, v any) (ok bool) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return false
	}
	td := decPlanFor(rv.Type().Elem())
	if td.decode == nil || !isZeroMemory(rv.UnsafePointer(), td.t.Size()) {
		return false
	}
	d := decodeState{b: payload}
	i := skipSpace(payload, 0)
	if i >= len(payload) {
		return false
	}
	i = td.decode(td, &d, i, rv.UnsafePointer())
	d.release()
	if i < 0 || skipSpace(payload, i) != len(payload) {
		rv.Elem().SetZero() // as it was: zero
		return false
	}
	return true
}

// fastUnmarshalAny decodes payload as encoding/json decodes into an empty
// interface, and reports whether it could.
func fastUnmarshalAny(payload []byte) (any, bool) {
	i := skipSpace(payload, 0)
	if i >= len(payload) {
		return nil, false
	}
	d := decodeState{b: payload}
	if c := payload[i]; c == '{' || c == '[' {
		d.floatRoom = boxChunk // numbers likely; a lone string or number needs no room
		d.named = c == '{'
	}
	v, end := d.anyValue(i)
	d.release()
	if end < 0 || skipSpace(payload, end) != len(payload) {
		return nil, false
	}
	return v, true
}

// scratch is the stacks of a decode into any, kept between decodes.
type scratch struct {
	members []member
	elems   []any
}

// spillMember pushes a member of an object too large for object's own
// array onto the members stack, taking the pooled scratch stacks first.
func (d *decodeState) spillMember(m member) {
	if d.sc == nil {
		d.takeScratch()
	}
	d.members = append(d.members, m)
}

// spillElem is spillMember for array elements.
func (d *decodeState) spillElem(v any) {
	if d.sc == nil {
		d.takeScratch()
	}
	d.elems = append(d.elems, v)
}

func (d *decodeState) takeScratch() {
	d.sc = scratchPool.Get().(*scratch)
	d.members, d.elems = d.sc.members[:0], d.sc.elems[:0]
}

// release returns the scratch stacks, if the decode took them.
func (d *decodeState) release() {
	if d.sc == nil {
		return
	}
	// Drop the references: the scratch outlives the result.
	clear(d.members[:d.membersHigh])
	clear(d.elems[:d.elemsHigh])
	if cap(d.members) <= 1024 && cap(d.elems) <= 1024 {
		d.sc.members, d.sc.elems = d.members[:0], d.elems[:0]
		scratchPool.Put(d.sc)
	}
	d.sc = nil
}

// scratchPool holds the scratch stacks of decodes into any.
var scratchPool = sync.Pool{New: func() any {
	return &scratch{members: make([]member, 0, 32), elems: make([]any, 0, 32)}
}}

// isZeroMemory reports whether the n bytes at p are all zero: a fresh
// zero value (padding included; a copy with stray padding merely takes the
// slow path).
func isZeroMemory(p unsafe.Pointer, n uintptr) bool {
	b := unsafe.Slice((*byte)(p), n)
	for len(b) >= 8 && uintptr(unsafe.Pointer(&b[0]))%8 == 0 {
		if *(*uint64)(unsafe.Pointer(&b[0])) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func decGiveUp(*typeDec, *decodeState, int, unsafe.Pointer) int { return -1 }

// null reports whether a JSON null starts at d.b[i] (a null leaves a fresh
// value as it is, for every kind, as in encoding/json).
func (d *decodeState) null(i int) bool {
	return len(d.b)-i >= 4 && string(d.b[i:i+4]) == "null"
}

// str decodes the JSON string whose quotes are at d.b[i] and d.b[end-1].
func (d *decodeState) str(i, end int, flags uint8) string {
	if flags == 0 && d.src != "" {
		return d.src[i+1 : end-1]
	}
	return d.strSlow(i, end, flags)
}

func (d *decodeState) strSlow(i, end int, flags uint8) string {
	content := d.b[i+1 : end-1]
	if flags&strEscape != 0 || flags&strHigh != 0 && !utf8.Valid(content) {
		return string(unquote(d.b[i:end]))
	}
	if len(d.b) > maxSharedSource {
		return string(content)
	}
	if d.src == "" {
		d.share()
	}
	return d.src[i+1 : end-1]
}

// share makes d.src, the copy of a payload of at most maxSharedSource
// bytes that its decoded strings share. Decoding into any also takes the
// first chunk of boxed numbers from the same allocation, after the text:
// both hold no pointers.
func (d *decodeState) share() {
	n := len(d.b)
	text := (n + 7) &^ 7 // the numbers after it are aligned
	room := 0
	if cap(d.floats) == 0 {
		room = int(d.floatRoom)
	}
	buf := make([]byte, text+8*room)
	copy(buf, d.b)
	d.src = unsafe.String(&buf[0], n)
	if room > 0 {
		d.floats = unsafe.Slice((*float64)(unsafe.Pointer(&buf[text])), room)[:0]
	}
}

func decString(_ *typeDec, d *decodeState, i int, p unsafe.Pointer) int {
	if d.b[i] != '"' {
		if d.null(i) {
			return i + 4
		}
		return -1
	}
	end, flags := scanString(d.b, i)
	if end < 0 {
		return -1
	}
	*(*string)(p) = d.str(i, end, flags)
	return end
}

func decBool(_ *typeDec, d *decodeState, i int, p unsafe.Pointer) int {
	b := d.b
	switch {
	case len(b)-i >= 4 && string(b[i:i+4]) == "true":
		*(*bool)(p) = true
		return i + 4
	case len(b)-i >= 5 && string(b[i:i+5]) == "false":
		return i + 5
	case d.null(i):
		return i + 4
	}
	return -1
}

// number returns the end of the JSON number at d.b[i] and whether it is an
// integer (no fraction, no exponent); end is -1 if there is no number.
func (d *decodeState) number(i int) (end int, integer bool) {
	end = scanNumber(d.b, i)
	if end < 0 {
		return -1, false
	}
	for _, c := range d.b[i:end] {
		if c == '.' || c == 'e' || c == 'E' {
			return end, false
		}
	}
	return end, true
}

// bytesString views b as a string for strconv, which copies what it keeps.
func bytesString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func decInt(td *typeDec, d *decodeState, i int, p unsafe.Pointer) int {
	end, integer := d.number(i)
	if end < 0 || !integer {
		if end < 0 && d.null(i) {
			return i + 4
		}
		return -1 // encoding/json: a fraction or exponent does not fit an int
	}
	var n int64
	if digits := d.b[i:end]; len(digits) <= 18 && digits[0] != '-' {
		for _, c := range digits {
			n = n*10 + int64(c-'0')
		}
		if td.bits < 64 && n >= 1<<(td.bits-1) {
			return -1
		}
	} else {
		var err error
		if n, err = strconv.ParseInt(bytesString(digits), 10, td.bits); err != nil {
			return -1
		}
	}
	switch td.bits {
	case 8:
		*(*int8)(p) = int8(n)
	case 16:
		*(*int16)(p) = int16(n)
	case 32:
		*(*int32)(p) = int32(n)
	default:
		*(*int64)(p) = n
	}
	return end
}

func decUint(td *typeDec, d *decodeState, i int, p unsafe.Pointer) int {
	end, integer := d.number(i)
	if end < 0 || !integer || d.b[i] == '-' {
		if end < 0 && d.null(i) {
			return i + 4
		}
		return -1
	}
	n, err := strconv.ParseUint(bytesString(d.b[i:end]), 10, td.bits)
	if err != nil {
		return -1
	}
	switch td.bits {
	case 8:
		*(*uint8)(p) = uint8(n)
	case 16:
		*(*uint16)(p) = uint16(n)
	case 32:
		*(*uint32)(p) = uint32(n)
	default:
		*(*uint64)(p) = n
	}
	return end
}

func decFloat(td *typeDec, d *decodeState, i int, p unsafe.Pointer) int {
	end := scanNumber(d.b, i)
	if end < 0 {
		if d.null(i) {
			return i + 4
		}
		return -1
	}
	f, ok := parseShortFloat(d.b[i:end])
	if !ok || td.bits == 32 {
		var err error
		if f, err = strconv.ParseFloat(bytesString(d.b[i:end]), td.bits); err != nil {
			return -1
		}
	}
	if td.bits == 32 {
		*(*float32)(p) = float32(f)
	} else {
		*(*float64)(p) = f
	}
	return end
}

// exactPow10 holds the powers of ten that a float64 represents exactly.
var exactPow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// parseShortFloat parses the valid JSON number b as a float64 when it has
// at most 15 digits and no exponent, the common case (prices, counts, ids):
// the digits make an integer below 2^53 and the fraction's power of ten is
// exact, so one correctly rounded division gives what
// strconv.ParseFloat(b, 64) gives (its own fast path, without its general
// parsing). ok is false for any other number.
func parseShortFloat(b []byte) (f float64, ok bool) {
	i, neg := 0, false
	if len(b) > 0 && b[0] == '-' {
		i, neg = 1, true
	}
	if len(b)-i > 16 || len(b) == i {
		return 0, false // more than 15 digits and a point, or no digit
	}
	var mant uint64
	frac, dot := 0, false
	for ; i < len(b); i++ {
		switch c := b[i]; {
		case '0' <= c && c <= '9':
			mant = mant*10 + uint64(c-'0')
			if dot {
				frac++
			}
		case c == '.' && !dot:
			dot = true
		default:
			return 0, false
		}
	}
	if n := len(b); n-btoi(neg)-btoi(dot) > 15 {
		return 0, false
	}
	f = float64(mant)
	if frac > 0 {
		f /= exactPow10[frac]
	}
	if neg {
		f = -f
	}
	return f, true
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func decInterface(_ *typeDec, d *decodeState, i int, p unsafe.Pointer) int {
	v, end := d.anyValue(i)
	if end >= 0 {
		*(*any)(p) = v
	}
	return end
}

func decPointer(td *typeDec, d *decodeState, i int, p unsafe.Pointer) int {
	if d.null(i) {
		return i + 4
	}
	// Counted as a level, so that a pointer type that points to itself
	// (type P *P) ends in giving up, not in a stack overflow.
	if d.depth++; d.depth > maxDecodeDepth {
		return -1
	}
	elem := reflect.New(td.elem.t).UnsafePointer()
	end := td.elem.decode(td.elem, d, i, elem)
	*(*unsafe.Pointer)(p) = elem
	d.depth--
	return end
}

// open enters the object or array that starts at d.b[i] and returns the
// index of its first member or element (or of its closing bracket), or -1.
func (d *decodeState) open(i int) int {
	d.depth++
	if d.depth > maxDecodeDepth {
		return -1
	}
	return d.skip(i + 1)
}

func (d *decodeState) skip(i int) int {
	i = skipSpace(d.b, i)
	if i >= len(d.b) {
		return -1
	}
	return i
}

// next is called after a member or element: it returns the index of the
// next one, or done with the index after the closing bracket c.
func (d *decodeState) next(i int, c byte) (int, bool) {
	if i < 0 {
		return -1, true
	}
	if i = d.skip(i); i < 0 {
		return -1, true
	}
	switch d.b[i] {
	case ',':
		if i = d.skip(i + 1); i < 0 {
			return -1, true
		}
		return i, false
	case c:
		d.depth--
		return i + 1, true
	}
	return -1, true
}

// key decodes the member name at d.b[i] and returns the index of its value.
// The name is returned as a view of the payload: copy it to keep it.
func (d *decodeState) key(i int) ([]byte, int) {
	if i < 0 || d.b[i] != '"' {
		return nil, -1
	}
	end, flags := scanString(d.b, i)
	if end < 0 {
		return nil, -1
	}
	name := d.b[i+1 : end-1]
	if flags != 0 {
		name = unquote(d.b[i:end])
	}
	i = d.skip(end)
	if i < 0 || d.b[i] != ':' {
		return nil, -1
	}
	return name, d.skip(i + 1)
}

// keyString is key for names that are kept (map keys).
func (d *decodeState) keyString(i int) (string, int) {
	if i < 0 || d.b[i] != '"' {
		return "", -1
	}
	end, flags := scanString(d.b, i)
	if end < 0 {
		return "", -1
	}
	return d.str(i, end, flags), d.colon(end)
}

// colon returns the index of a member's value, given the index just after
// its name, or -1.
func (d *decodeState) colon(i int) int {
	if i = d.skip(i); i < 0 || d.b[i] != ':' {
		return -1
	}
	return d.skip(i + 1)
}

func decStruct(td *typeDec, d *decodeState, i int, p unsafe.Pointer) int {
	if d.b[i] != '{' {
		if d.null(i) {
			return i + 4
		}
		return -1
	}
	if i = d.open(i); i < 0 {
		return -1
	}
	if d.b[i] == '}' {
		d.depth--
		return i + 1
	}
	var seen uint64
	hint := 0 // members usually come in field order
	for {
		// Members usually come in field order, named as the fields are:
		// then the quoted name is the field's name byte for byte.
		if hint < len(td.fields) {
			if f := &td.fields[hint]; f.quoted != "" && len(d.b)-i > len(f.quoted) && string(d.b[i:i+len(f.quoted)]) == f.quoted {
				if vi := d.skip(i + len(f.quoted)); vi >= 0 && d.b[vi] == ':' {
					if vi = d.skip(vi + 1); vi < 0 || seen&(1<<hint) != 0 {
						return -1
					}
					seen |= 1 << hint
					hint++
					i = f.td.decode(f.td, d, vi, unsafe.Add(p, f.offset))
					var done bool
					if i, done = d.next(i, '}'); done {
						return i
					}
					continue
				}
			}
		}
		name, vi := d.key(i)
		if vi < 0 {
			return -1
		}
		f := -1
		if hint < len(td.fields) && td.fields[hint].name == string(name) {
			f = hint
		} else if td.byName != nil {
			if k, ok := td.byName[string(name)]; ok {
				f = k
			}
		} else {
			for k := range td.fields {
				if td.fields[k].name == string(name) {
					f = k
					break
				}
			}
		}
		if f >= 0 {
			if seen&(1<<f) != 0 {
				return -1 // a repeated member: encoding/json decodes it again over the first
			}
			seen |= 1 << f
			hint = f + 1
			fd := &td.fields[f]
			i = fd.td.decode(fd.td, d, vi, unsafe.Add(p, fd.offset))
		} else {
			if td.nearMiss(name) {
				return -1
			}
			i = scanValue(d.b, vi, int(d.depth))
		}
		var done bool
		if i, done = d.next(i, '}'); done {
			return i
		}
	}
}

// nearMiss reports whether name, matching no field exactly, might match one
// the way encoding/json also matches names: case-insensitively.
func (td *typeDec) nearMiss(name []byte) bool {
	if td.foldCheck {
		return true
	}
	for _, c := range name {
		if c >= utf8.RuneSelf {
			return true
		}
	}
	for k := range td.fields {
		f := td.fields[k].folded
		if len(f) != len(name) {
			continue
		}
		same := true
		for j, c := range name {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			if c != f[j] {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	return false
}

// firstCap is the capacity of a decoded slice's first backing array.
const firstCap = 4

// sliceHeader is the layout of a slice value.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

func decSlice(td *typeDec, d *decodeState, i int, p unsafe.Pointer) int {
	if d.b[i] != '[' {
		if d.null(i) {
			return i + 4
		}
		return -1
	}
	if i = d.open(i); i < 0 {
		return -1
	}
	if d.b[i] == ']' {
		d.depth--
		reflect.NewAt(td.t, p).Elem().Set(reflect.MakeSlice(td.t, 0, 0)) // encoding/json: empty, not nil
		return i + 1
	}
	h := (*sliceHeader)(p)
	for {
		switch {
		case h.data == nil:
			h.data, h.cap = reflect.New(td.arr).UnsafePointer(), firstCap
		case h.len == h.cap:
			sv := reflect.NewAt(td.t, p).Elem()
			grown := reflect.MakeSlice(td.t, h.len, 2*h.cap)
			reflect.Copy(grown, sv)
			sv.Set(grown)
		}
		h.len++ // the new element is zero: fresh memory
		i = td.elem.decode(td.elem, d, i, unsafe.Add(h.data, uintptr(h.len-1)*td.size))
		var done bool
		if i, done = d.next(i, ']'); done {
			return i
		}
	}
}

func decMap(td *typeDec, d *decodeState, i int, p unsafe.Pointer) int {
	if d.b[i] != '{' {
		if d.null(i) {
			return i + 4
		}
		return -1
	}
	if i = d.open(i); i < 0 {
		return -1
	}
	mv := reflect.NewAt(td.t, p).Elem()
	mv.Set(reflect.MakeMap(td.t))
	if d.b[i] == '}' {
		d.depth--
		return i + 1
	}
	kt := td.t.Key()
	for {
		name, vi := d.keyString(i)
		if vi < 0 {
			return -1
		}
		ev := reflect.New(td.elem.t)
		i = td.elem.decode(td.elem, d, vi, ev.UnsafePointer())
		if i < 0 {
			return -1
		}
		kv := reflect.ValueOf(name)
		if kt != kv.Type() {
			kv = kv.Convert(kt)
		}
		mv.SetMapIndex(kv, ev.Elem())
		var done bool
		if i, done = d.next(i, '}'); done {
			return i
		}
	}
}

func decMapAny(_ *typeDec, d *decodeState, i int, p unsafe.Pointer) int {
	if d.b[i] != '{' {
		if d.null(i) {
			return i + 4
		}
		return -1
	}
	m, end := d.object(i)
	if end >= 0 {
		*(*map[string]any)(p) = m
	}
	return end
}

// anyValue decodes the value at d.b[i] as encoding/json decodes into an
// empty interface: map[string]any, []any, string, float64, bool or nil.
func (d *decodeState) anyValue(i int) (any, int) {
	b := d.b
	switch c := b[i]; c {
	case '"':
		end, flags := scanString(b, i)
		if end < 0 {
			return nil, -1
		}
		return d.boxString(d.str(i, end, flags)), end
	case '{':
		m, end := d.object(i)
		if end < 0 {
			return nil, -1
		}
		return m, end
	case '[':
		return d.array(i)
	case 't':
		if len(b)-i >= 4 && string(b[i:i+4]) == "true" {
			return true, i + 4
		}
	case 'f':
		if len(b)-i >= 5 && string(b[i:i+5]) == "false" {
			return false, i + 5
		}
	case 'n':
		if d.null(i) {
			return nil, i + 4
		}
	default:
		f, end := d.float(i)
		if end < 0 {
			return nil, -1
		}
		return d.boxFloat(f), end
	}
	return nil, -1
}

// float decodes the JSON number at d.b[i] as a float64, as
// strconv.ParseFloat does, and returns the index just after it (-1 if
// there is no number); d.b[i] exists. A number of at most 15 digits without an exponent
// is parsed as it is scanned (parseShortFloat's reasoning); any other is
// scanned again and left to strconv.
func (d *decodeState) float(i int) (float64, int) {
	b := d.b
	j := i
	neg := b[j] == '-'
	if neg {
		j++
	}
	start := j // of the digits
	var mant uint64
	if j < len(b) && b[j] == '0' {
		j++
	} else {
		for j < len(b) && isDigit(b[j]) {
			mant = mant*10 + uint64(b[j]-'0')
			j++
		}
		if j == start {
			return 0, -1
		}
	}
	digits, frac := j-start, 0
	if j < len(b) && b[j] == '.' {
		j++
		k := j
		for j < len(b) && isDigit(b[j]) {
			mant = mant*10 + uint64(b[j]-'0')
			j++
		}
		if frac = j - k; frac == 0 {
			return 0, -1
		}
		digits += frac
	}
	if digits > 15 || j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		end := scanNumber(b, i)
		if end < 0 {
			return 0, -1
		}
		f, err := strconv.ParseFloat(bytesString(b[i:end]), 64)
		if err != nil {
			return 0, -1
		}
		return f, end
	}
	f := float64(mant)
	if frac > 0 {
		f /= exactPow10[frac]
	}
	if neg {
		f = -f
	}
	return f, j
}

// eface is the layout of an empty interface value.
type eface struct {
	typ, data unsafe.Pointer
}

var (
	float64Type  = (*eface)(unsafe.Pointer(&[]any{0.0}[0])).typ
	stringType   = (*eface)(unsafe.Pointer(&[]any{""}[0])).typ
	sliceAnyType = (*eface)(unsafe.Pointer(&[]any{[]any(nil)}[0])).typ
)

// boxChunk is how many numbers or strings share one allocation.
const boxChunk = 8

// boxFloat returns f as an interface value, as any(f) would, but with its
// 8 bytes taken from a chunk shared with other numbers of this decode
// (which are never written again once boxed).
func (d *decodeState) boxFloat(f float64) any {
	n := len(d.floats)
	if n == cap(d.floats) {
		d.moreFloats()
		n = 0
	}
	d.floats = d.floats[:n+1]
	d.floats[n] = f
	return *(*any)(unsafe.Pointer(&eface{float64Type, unsafe.Pointer(&d.floats[n])}))
}

func (d *decodeState) moreFloats() {
	// An object's names need the shared copy: make it now, with the
	// numbers' room. (An array may hold no string at all: its numbers
	// get a chunk of their own.)
	if d.src == "" && d.named && len(d.b) <= maxSharedSource {
		d.share()
	}
	if len(d.floats) == cap(d.floats) {
		d.floats = make([]float64, 0, boxChunk)
	}
}

// boxString is boxFloat for strings.
func (d *decodeState) boxString(s string) any {
	if s == "" {
		return ""
	}
	n := len(d.strs)
	if n == cap(d.strs) {
		d.moreStrs()
		n = 0
	}
	d.strs = d.strs[:n+1]
	d.strs[n] = s
	return *(*any)(unsafe.Pointer(&eface{stringType, unsafe.Pointer(&d.strs[n])}))
}

func (d *decodeState) moreStrs() {
	if !d.boxed {
		d.takeBoxes()
	}
	if len(d.strs) == cap(d.strs) {
		// Objects hold more strings than numbers (their values, not
		// their names): a larger payload gets larger chunks.
		d.strs = make([]string, 0, boxChunk+boxChunk*min(len(d.b)/256, 1))
	}
}

// backingOf returns a new []any of length and capacity n (so that an
// append by its user copies it, never writing into its neighbour's
// elements), cut from a chunk shared with the other arrays of this decode
// when it is short.
func (d *decodeState) backingOf(n int) []any {
	if n == 0 {
		return []any{} // empty, not nil, as in encoding/json (allocates nothing)
	}
	if n > boxChunk {
		return make([]any, n)
	}
	if cap(d.backing)-len(d.backing) < n {
		d.backing = make([]any, 0, boxChunk)
	}
	k := len(d.backing)
	d.backing = d.backing[:k+n]
	return d.backing[k : k+n : k+n]
}

// takeBoxes is called at the first string boxed: in a payload of 256
// bytes or more, it makes the first chunks of boxed strings, array
// elements and slice headers in one allocation (the sizes the chunks would
// have on their own), as a payload with strings usually has arrays too;
// the array chunks are taken from it only if no array came first (a
// payload of numbers alone gets small chunks of its own).
func (d *decodeState) takeBoxes() {
	d.boxed = true
	switch {
	case len(d.b) >= 1024:
		bx := new(struct {
			strs   [2 * boxChunk]string
			elems  [boxChunk]any
			slices [boxChunk][]any
		})
		d.takeChunks(bx.strs[:0], bx.elems[:0], bx.slices[:0])
	case len(d.b) >= 256:
		bx := new(struct {
			strs   [2 * boxChunk]string
			elems  [boxChunk]any
			slices [boxChunk / 4][]any
		})
		d.takeChunks(bx.strs[:0], bx.elems[:0], bx.slices[:0])
	}
}

func (d *decodeState) takeChunks(strs []string, backing []any, slices [][]any) {
	d.strs = strs
	if cap(d.backing) == 0 {
		d.backing = backing
	}
	if cap(d.slices) == 0 {
		d.slices = slices
	}
}

// boxSlice is boxFloat for the []any of decoded arrays.
func (d *decodeState) boxSlice(a []any) any {
	n := len(d.slices)
	if n == cap(d.slices) {
		d.moreSlices()
		n = 0
	}
	d.slices = d.slices[:n+1]
	d.slices[n] = a
	return *(*any)(unsafe.Pointer(&eface{sliceAnyType, unsafe.Pointer(&d.slices[n])}))
}

func (d *decodeState) moreSlices() {
	d.slices = make([][]any, 0, boxChunk/4*(1+3*min(len(d.b)/1024, 1)))
}

// arrayElems and objectMembers are how many elements or members array and
// object hold in an array of their own: on the stack, where writing them
// needs no write barrier while the garbage collector runs, unlike the
// scratch stacks they spill to.
const (
	arrayElems    = 8
	objectMembers = 16
)

// array decodes the JSON array at d.b[i] into a new []any, boxed.
func (d *decodeState) array(i int) (any, int) {
	if i = d.open(i); i < 0 {
		return nil, -1
	}
	b := d.b
	if b[i] == ']' {
		d.depth--
		return d.boxSlice(d.backingOf(0)), i + 1
	}
	var own [arrayElems]any
	n, base := 0, len(d.elems)
	for {
		var v any
		if v, i = d.anyValue(i); i < 0 {
			return nil, -1
		}
		if n < len(own) {
			own[n] = v
		} else {
			d.spillElem(v)
		}
		n++
		// Compact JSON: a comma and the next element, or the end.
		if i+1 < len(b) && b[i] == ',' && b[i+1] > ' ' {
			i++
			continue
		}
		if i < len(b) && b[i] == ']' {
			d.depth--
			i++
		} else {
			var done bool
			if i, done = d.next(i, ']'); !done {
				continue
			}
			if i < 0 {
				return nil, -1
			}
		}
		a := d.backingOf(n)
		for k := range min(n, len(own)) {
			a[k] = own[k]
		}
		if n > len(own) {
			copy(a[len(own):], d.elems[base:])
			d.elemsHigh = max(d.elemsHigh, int32(len(d.elems)))
			d.elems = d.elems[:base]
		}
		return d.boxSlice(a), i
	}
}

// object decodes the JSON object at d.b[i] into a new map[string]any.
func (d *decodeState) object(i int) (map[string]any, int) {
	if i = d.open(i); i < 0 {
		return nil, -1
	}
	b := d.b
	if b[i] == '}' {
		d.depth--
		return make(map[string]any), i + 1
	}
	var own [objectMembers]member
	n, base := 0, len(d.members)
	for {
		// The name (b[i] is the member's first byte); in compact JSON its
		// value follows the colon.
		if b[i] != '"' {
			return nil, -1
		}
		end, flags := scanString(b, i)
		if end < 0 {
			return nil, -1
		}
		name := d.str(i, end, flags)
		if end+1 < len(b) && b[end] == ':' && b[end+1] > ' ' {
			i = end + 1
		} else if i = d.colon(end); i < 0 {
			return nil, -1
		}
		var v any
		if v, i = d.anyValue(i); i < 0 {
			return nil, -1
		}
		if n < len(own) {
			own[n] = member{name, v}
		} else {
			d.spillMember(member{name, v})
		}
		n++
		// Compact JSON: a comma and the next name, or the end.
		if i+1 < len(b) && b[i] == ',' && b[i+1] == '"' {
			i++
			continue
		}
		if i < len(b) && b[i] == '}' {
			d.depth--
			i++
		} else {
			var done bool
			if i, done = d.next(i, '}'); !done {
				continue
			}
			if i < 0 {
				return nil, -1
			}
		}
		// A repeated name: the last wins, as in encoding/json.
		m := make(map[string]any, n)
		for k := range min(n, len(own)) {
			m[own[k].name] = own[k].value
		}
		if n > len(own) {
			for _, mb := range d.members[base:] {
				m[mb.name] = mb.value
			}
			d.membersHigh = max(d.membersHigh, int32(len(d.members)))
			d.members = d.members[:base]
		}
		return m, i
	}
}
