package message

import (
	"encoding"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unsafe"
)

// This file encodes structs, and the slices, maps and pointers inside them,
// as encoding/json does with SetEscapeHTML(false), byte for byte, from a
// per-type plan made once and cached, without encoding/json's reflection
// walk. Like the decoder (jsondec.go), it is a fast path that gives up
// (errSlowPath) on anything it does not handle exactly: a type with its own
// MarshalJSON or MarshalText, an embedded field, a ",string" or "omitzero"
// option, []byte, arrays, maps with non-string keys, NaN or infinities, and
// values nested deeper than maxFastDepth (which also covers cycles).
// appendJSON then encodes the whole value with encoding/json.

// encodeFunc appends the value of te's type at p.
type encodeFunc func(te *typeEnc, dst []byte, p unsafe.Pointer, depth int) ([]byte, error)

// typeEnc is the encode plan of one type.
type typeEnc struct {
	t      reflect.Type
	encode encodeFunc
	elem   *typeEnc // pointer, slice, map: the element's plan
	size   uintptr  // slice: the element's size
	bits   int      // numbers: the bit size
	fields []fieldEnc
}

type fieldEnc struct {
	prefix    string // `"name":`
	offset    uintptr
	te        *typeEnc
	omitEmpty bool
}

var (
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

var encPlans planCache[*typeEnc]

func encPlanFor(t reflect.Type) *typeEnc { return encPlans.get(t, buildEnc) }

func buildEnc(t reflect.Type, building map[reflect.Type]*typeEnc) *typeEnc {
	if te, ok := encPlans.lookup(t, building); ok {
		return te
	}
	te := &typeEnc{t: t, encode: encSlow}
	building[t] = te
	if customMarshaler(t) || t == jsonNumberType {
		return te
	}
	switch t.Kind() {
	case reflect.String:
		te.encode = encString
	case reflect.Bool:
		te.encode = encBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		te.encode, te.bits = encInt, t.Bits()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		te.encode, te.bits = encUint, t.Bits()
	case reflect.Float32, reflect.Float64:
		te.encode, te.bits = encFloat, t.Bits()
	case reflect.Interface:
		te.encode = encInterface
	case reflect.Pointer:
		te.encode, te.elem = encPointer, buildEnc(t.Elem(), building)
	case reflect.Slice:
		if t.Elem().Kind() != reflect.Uint8 { // []byte is base64
			te.encode, te.elem, te.size = encSlice, buildEnc(t.Elem(), building), t.Elem().Size()
		}
	case reflect.Map:
		if kt := t.Key(); kt.Kind() == reflect.String && !customMarshaler(kt) {
			te.encode, te.elem = encMap, buildEnc(t.Elem(), building)
		}
	case reflect.Struct:
		buildStructEnc(te, building)
	}
	return te
}

// customMarshaler reports whether encoding/json might hand a value of type
// t to its own MarshalJSON or MarshalText.
func customMarshaler(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return t.Implements(jsonMarshalerType) || pt.Implements(jsonMarshalerType) ||
		t.Implements(textMarshalerType) || pt.Implements(textMarshalerType)
}

func buildStructEnc(te *typeEnc, building map[reflect.Type]*typeEnc) {
	t := te.t
	var fields []fieldEnc
	names := map[string]bool{}
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous {
			return
		}
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name != "" && !isValidTag(name) || hasOption(opts, "string") || hasOption(opts, "omitzero") {
			return
		}
		if name == "" {
			name = sf.Name
		}
		if names[name] {
			return
		}
		names[name] = true
		fields = append(fields, fieldEnc{
			prefix:    string(appendString(nil, name)) + ":",
			offset:    sf.Offset,
			te:        buildEnc(sf.Type, building),
			omitEmpty: hasOption(opts, "omitempty"),
		})
	}
	te.fields = fields
	te.encode = encStruct
}

// appendTyped appends v with its type's plan, or returns errSlowPath.
func appendTyped(dst []byte, v any, depth int) ([]byte, error) {
	t := reflect.TypeOf(v)
	te := encPlanFor(t)
	data := (*eface)(unsafe.Pointer(&v)).data
	switch k := t.Kind(); {
	case k == reflect.Pointer:
		// The interface holds the pointer itself.
		if te.elem == nil {
			return dst, errSlowPath // a type that marshals itself
		}
		if data == nil {
			return append(dst, "null"...), nil
		}
		return te.elem.encode(te.elem, dst, data, depth+1)
	case k == reflect.Map || k == reflect.Chan || k == reflect.Func || k == reflect.UnsafePointer ||
		(k == reflect.Struct || k == reflect.Array) && t.Size() == unsafe.Sizeof(data):
		// The interface may hold the value itself rather than a pointer to
		// it: give the plan a copy to point at.
		pv := reflect.New(t)
		pv.Elem().Set(reflect.ValueOf(v))
		return te.encode(te, dst, pv.UnsafePointer(), depth)
	}
	// The interface points at its own copy of the value, which nothing
	// writes: the plan reads it there.
	return te.encode(te, dst, data, depth)
}

func encSlow(*typeEnc, []byte, unsafe.Pointer, int) ([]byte, error) { return nil, errSlowPath }

func encString(_ *typeEnc, dst []byte, p unsafe.Pointer, _ int) ([]byte, error) {
	return appendString(dst, *(*string)(p)), nil
}

func encBool(_ *typeEnc, dst []byte, p unsafe.Pointer, _ int) ([]byte, error) {
	return strconv.AppendBool(dst, *(*bool)(p)), nil
}

func encInt(te *typeEnc, dst []byte, p unsafe.Pointer, _ int) ([]byte, error) {
	var n int64
	switch te.bits {
	case 8:
		n = int64(*(*int8)(p))
	case 16:
		n = int64(*(*int16)(p))
	case 32:
		n = int64(*(*int32)(p))
	default:
		n = *(*int64)(p)
	}
	return strconv.AppendInt(dst, n, 10), nil
}

func encUint(te *typeEnc, dst []byte, p unsafe.Pointer, _ int) ([]byte, error) {
	var n uint64
	switch te.bits {
	case 8:
		n = uint64(*(*uint8)(p))
	case 16:
		n = uint64(*(*uint16)(p))
	case 32:
		n = uint64(*(*uint32)(p))
	default:
		n = *(*uint64)(p)
	}
	return strconv.AppendUint(dst, n, 10), nil
}

func encFloat(te *typeEnc, dst []byte, p unsafe.Pointer, _ int) ([]byte, error) {
	if te.bits == 32 {
		return appendFloat(dst, float64(*(*float32)(p)), 32)
	}
	return appendFloat(dst, *(*float64)(p), 64)
}

func encInterface(te *typeEnc, dst []byte, p unsafe.Pointer, depth int) ([]byte, error) {
	var v any
	if te.t.NumMethod() == 0 {
		v = *(*any)(p)
	} else if iv := reflect.NewAt(te.t, p).Elem(); !iv.IsNil() {
		v = iv.Elem().Interface()
	}
	if v == nil {
		return append(dst, "null"...), nil
	}
	if depth >= maxFastDepth {
		return dst, errSlowPath
	}
	return appendValue(dst, v, depth+1)
}

func encPointer(te *typeEnc, dst []byte, p unsafe.Pointer, depth int) ([]byte, error) {
	elem := *(*unsafe.Pointer)(p)
	if elem == nil {
		return append(dst, "null"...), nil
	}
	if depth >= maxFastDepth {
		return dst, errSlowPath // perhaps a cycle: encoding/json reports it
	}
	return te.elem.encode(te.elem, dst, elem, depth+1)
}

func encSlice(te *typeEnc, dst []byte, p unsafe.Pointer, depth int) ([]byte, error) {
	h := (*sliceHeader)(p)
	if h.data == nil {
		return append(dst, "null"...), nil
	}
	if depth >= maxFastDepth {
		return dst, errSlowPath
	}
	dst = append(dst, '[')
	for i := range h.len {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = te.elem.encode(te.elem, dst, unsafe.Add(h.data, uintptr(i)*te.size), depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, ']'), nil
}

func encMap(te *typeEnc, dst []byte, p unsafe.Pointer, depth int) ([]byte, error) {
	m := reflect.NewAt(te.t, p).Elem()
	if m.IsNil() {
		return append(dst, "null"...), nil
	}
	if depth >= maxFastDepth {
		return dst, errSlowPath
	}
	type entry struct {
		key string
		val reflect.Value
	}
	entries := make([]entry, 0, m.Len())
	for it := m.MapRange(); it.Next(); {
		entries = append(entries, entry{it.Key().String(), it.Value()})
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	dst = append(dst, '{')
	tmp := reflect.New(te.t.Elem()) // an address for each value in turn
	for i, e := range entries {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, e.key)
		dst = append(dst, ':')
		tmp.Elem().Set(e.val)
		var err error
		if dst, err = te.elem.encode(te.elem, dst, tmp.UnsafePointer(), depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

func encStruct(te *typeEnc, dst []byte, p unsafe.Pointer, depth int) ([]byte, error) {
	if depth >= maxFastDepth {
		return dst, errSlowPath
	}
	dst = append(dst, '{')
	first := true
	for k := range te.fields {
		f := &te.fields[k]
		fp := unsafe.Add(p, f.offset)
		if f.omitEmpty && isEmpty(f.te, fp) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, f.prefix...)
		var err error
		if dst, err = f.te.encode(f.te, dst, fp, depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// isEmpty is encoding/json's isEmptyValue, for omitempty.
func isEmpty(te *typeEnc, p unsafe.Pointer) bool {
	switch te.t.Kind() {
	case reflect.String:
		return len(*(*string)(p)) == 0
	case reflect.Slice:
		return (*sliceHeader)(p).len == 0
	case reflect.Pointer:
		return *(*unsafe.Pointer)(p) == nil
	case reflect.Bool:
		return !*(*bool)(p)
	case reflect.Map, reflect.Array:
		return reflect.NewAt(te.t, p).Elem().Len() == 0
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface:
		return reflect.NewAt(te.t, p).Elem().IsZero()
	}
	return false
}
