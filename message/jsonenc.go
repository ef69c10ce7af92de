package message

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"
)

// This file encodes values as encoding/json does with SetEscapeHTML(false),
// byte for byte, without reflection for the common dynamic types, and with
// a cached per-type plan for structs and what they hold (jsonenc_typed.go);
// anything else goes through a pooled json.Encoder.

// errSlowPath makes appendValue give up so that the whole value is encoded
// by encoding/json, which then reports its own error for it.
var errSlowPath = errors.New("message: use encoding/json")

// maxFastDepth bounds the recursion of the fast path; deeper values (and
// cyclic ones) are left to encoding/json, which detects cycles.
const maxFastDepth = 64

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, as encoding/json writes it with
// HTML escaping off: control characters, '"' and '\\' escaped, invalid UTF-8
// replaced by \ufffd, U+2028 and U+2029 escaped.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) {
			m := unsafeMask(load64(s, i))
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) >> 3
		}
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// load64 reads s[i:i+8] as a little-endian word (the compiler makes it one load).
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// appendFloat appends f as encoding/json does (ES6 number formatting).
// bitSize is 32 or 64. It fails for NaN and infinities.
func appendFloat(dst []byte, f float64, bitSize int) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, errSlowPath
	}
	if bitSize == 64 {
		if out, ok := appendShortDecimal(dst, f); ok {
			return out, nil
		}
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bitSize == 64 && (abs < 1e-6 || abs >= 1e21) || bitSize == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bitSize)
	if format == 'e' {
		// Clean up e-09 to e-9.
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, nil
}

// appendShortDecimal appends f when it is n / 10^k exactly as a float64
// for an integer n below 10^15 and k up to 2 (whole numbers, prices): then
// that decimal is the shortest text that reads back as f, which is what
// strconv's shortest formatting writes, found without its general search.
func appendShortDecimal(dst []byte, f float64) ([]byte, bool) {
	if f == 0 || f >= 1e13 || f <= -1e13 {
		return dst, false // zero's sign, and large values: strconv
	}
	for k, scale := range [...]float64{1, 10, 100} {
		// The nearest integer (math.Round is not a machine instruction on
		// amd64); any candidate works, the check below decides.
		x := f * scale
		n := int64(x + 0.5)
		if x < 0 {
			n = int64(x - 0.5)
		}
		if float64(n)/scale != f {
			continue
		}
		if n < 0 {
			dst = append(dst, '-')
			n = -n
		}
		if k == 0 {
			return strconv.AppendUint(dst, uint64(n), 10), true
		}
		dst = strconv.AppendUint(dst, uint64(n)/uint64(scale), 10)
		frac := uint64(n) % uint64(scale)
		dst = append(dst, '.')
		if k == 2 {
			dst = append(dst, byte('0'+frac/10), byte('0'+frac%10))
		} else {
			dst = append(dst, byte('0'+frac))
		}
		return dst, true
	}
	return dst, false
}

// appendValue appends the JSON encoding of v. It returns errSlowPath when v
// (or a part of it) must be encoded by encoding/json as a whole.
func appendValue(dst []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendString(dst, x), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case float64:
		return appendFloat(dst, x, 64)
	case float32:
		return appendFloat(dst, float64(x), 32)
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case uintptr:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case json.RawMessage:
		if x == nil {
			return append(dst, "null"...), nil
		}
		out, ok := appendValidCompact(dst, x)
		if !ok {
			return dst, errSlowPath
		}
		return out, nil
	case map[string]any:
		if x == nil {
			return append(dst, "null"...), nil
		}
		if depth >= maxFastDepth {
			return dst, errSlowPath
		}
		return appendMap(dst, x, depth+1)
	case []any:
		if x == nil {
			return append(dst, "null"...), nil
		}
		if depth >= maxFastDepth {
			return dst, errSlowPath
		}
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendValue(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	default:
		start := len(dst)
		out, err := appendTyped(dst, v, depth)
		if err == errSlowPath {
			return appendEncoded(dst[:start], v)
		}
		return out, err
	}
}

func appendMap(dst []byte, m map[string]any, depth int) ([]byte, error) {
	var small [16]string
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		var err error
		if dst, err = appendValue(dst, m[k], depth); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// encoder is a json.Encoder writing into its own buffer, with HTML
// escaping off. They are pooled: one per concurrent encode.
type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var encoderPool = sync.Pool{New: func() any {
	e := new(encoder)
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}}

// maxPooledEncoder: an encoder whose buffer grew past this is not pooled.
const maxPooledEncoder = 64 << 10

// appendEncoded appends v as encoding/json encodes it, HTML escaping off.
func appendEncoded(dst []byte, v any) ([]byte, error) {
	e := encoderPool.Get().(*encoder)
	e.buf.Reset()
	err := e.enc.Encode(v)
	if err == nil {
		out := e.buf.Bytes()
		dst = append(dst, out[:len(out)-1]...) // drop Encode's newline
	}
	if e.buf.Cap() <= maxPooledEncoder {
		encoderPool.Put(e)
	}
	return dst, err
}

// appendJSON appends the JSON encoding of v, identical to what a
// json.Encoder with SetEscapeHTML(false) writes (without its newline).
func appendJSON(dst []byte, v any) ([]byte, error) {
	start := len(dst)
	out, err := appendValue(dst, v, 0)
	if err == errSlowPath {
		return appendEncoded(dst[:start], v)
	}
	if err != nil {
		return dst[:start], err
	}
	return out, nil
}
