package message

import (
	"encoding/binary"
	"math/bits"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a small hand-written JSON scanner: it validates JSON text
// exactly as encoding/json's json.Valid does (same grammar, same nesting
// limit, no UTF-8 check) while locating values, so that SplitEnvelope can
// check and cut a frame in one pass without allocating.

// maxNestingDepth is encoding/json's limit on nested arrays and objects.
const maxNestingDepth = 10000

// String flags reported by scanString.
const (
	strEscape = 1 << iota // the string holds a backslash escape
	strHigh               // the string holds a byte >= 0x80
)

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// unsafeMask has the high bit set in the first byte of x (little endian)
// that is below 0x20, a '"', a '\\' or >= 0x80; later bytes may be marked
// spuriously (borrows), but the lowest marked byte is always a true one and
// the mask is zero only when all eight bytes are plain printable ASCII.
func unsafeMask(x uint64) uint64 {
	return ((x - lsb*0x20) | ((x ^ lsb*'"') - lsb) | ((x ^ lsb*'\\') - lsb) | x) & msb
}

// isSpace reports JSON insignificant whitespace.
func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

func skipSpace(b []byte, i int) int {
	// Most calls find no space: one comparison rules out all but control
	// characters and the space itself.
	for i < len(b) && b[i] <= ' ' && isSpace(b[i]) {
		i++
	}
	return i
}

// scanString scans the JSON string whose opening quote is b[i]. It returns
// the index just after the closing quote (or -1 if the string is invalid)
// and the str flags of its content.
func scanString(b []byte, i int) (int, uint8) {
	var flags uint8
	i++
	for {
		for i+8 <= len(b) {
			m := unsafeMask(binary.LittleEndian.Uint64(b[i:]))
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) >> 3
			break
		}
		if i >= len(b) {
			return -1, 0
		}
		c := b[i]
		switch {
		case c == '"':
			return i + 1, flags
		case c == '\\':
			flags |= strEscape
			if i+1 >= len(b) {
				return -1, 0
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return -1, 0
				}
				i += 6
			default:
				return -1, 0
			}
		case c < 0x20:
			return -1, 0
		case c >= 0x80:
			flags |= strHigh
			i++
		default:
			i++
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// scanNumber scans the JSON number starting at b[i]; -1 if there is none.
func scanNumber(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '0':
		i++
	case '1' <= c && c <= '9':
		i++
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i
}

// scanLiteral checks that b[i:] starts with lit.
func scanLiteral(b []byte, i int, lit string) int {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit)
	}
	return -1
}

// scanMemberName scans `"name" :` and the whitespace after the colon,
// starting at b[i]; it returns the index of the member's value or -1, and
// whether it skipped any whitespace.
func scanMemberName(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return -1, false
	}
	if i, _ = scanString(b, i); i < 0 {
		return -1, false
	}
	j := skipSpace(b, i)
	if j >= len(b) || b[j] != ':' {
		return -1, false
	}
	k := skipSpace(b, j+1)
	return k, j != i || k != j+1
}

// scanValue validates the JSON value that starts at b[i] (no leading
// whitespace) and returns the index just after it, or -1 if it is invalid.
// depth is the number of arrays and objects already open around it.
func scanValue(b []byte, i int, depth int) int {
	end, _ := scanValueSpaced(b, i, depth)
	return end
}

// scanValueSpaced is scanValue that also reports whether the value holds
// insignificant whitespace (so that a compact value is copied as it is,
// without a second pass to compact it).
func scanValueSpaced(b []byte, i int, depth int) (int, bool) {
	spaced := false
	// The containers opened here, innermost last: one bit each, set for an
	// object. 256 levels fit on the stack; deeper values grow it.
	var small [4]uint64
	stack := small[:]
	n := 0 // containers open
	for {
		// A value is expected at b[i].
		if i < 0 || i >= len(b) {
			return -1, false
		}
		switch c := b[i]; c {
		case '"':
			i, _ = scanString(b, i)
		case '{', '[':
			if depth+n+1 > maxNestingDepth {
				return -1, false
			}
			j := skipSpace(b, i+1)
			spaced = spaced || j != i+1
			if i = j; i >= len(b) {
				return -1, false
			}
			if b[i] == c+2 { // '{'+2 == '}', '['+2 == ']'
				i++
				break
			}
			if n>>6 == len(stack) {
				stack = append(stack, 0)
			}
			if c == '{' {
				stack[n>>6] |= 1 << (n & 63)
				var sp bool
				i, sp = scanMemberName(b, i)
				spaced = spaced || sp
			} else {
				stack[n>>6] &^= 1 << (n & 63)
			}
			n++
			continue
		case 't':
			i = scanLiteral(b, i, "true")
		case 'f':
			i = scanLiteral(b, i, "false")
		case 'n':
			i = scanLiteral(b, i, "null")
		default:
			i = scanNumber(b, i)
		}
		// After a value: close containers until one wants another value.
		for {
			if i < 0 {
				return -1, false
			}
			if n == 0 {
				return i, spaced
			}
			j := skipSpace(b, i)
			spaced = spaced || j != i
			if i = j; i >= len(b) {
				return -1, false
			}
			object := stack[(n-1)>>6]&(1<<((n-1)&63)) != 0
			if b[i] == ',' {
				j := skipSpace(b, i+1)
				spaced = spaced || j != i+1
				i = j
				if object {
					var sp bool
					if i, sp = scanMemberName(b, i); i < 0 {
						return -1, false
					}
					spaced = spaced || sp
				}
				break
			}
			if object && b[i] != '}' || !object && b[i] != ']' {
				return -1, false
			}
			n--
			i++
		}
	}
}

// validJSON reports whether b is one JSON value, whitespace allowed around
// it: json.Valid's answer.
func validJSON(b []byte) bool {
	i := skipSpace(b, 0)
	if i >= len(b) {
		return false
	}
	i = scanValue(b, i, 0)
	return i >= 0 && skipSpace(b, i) == len(b)
}

// unquote returns the content of the valid JSON string s (quotes included)
// as encoding/json decodes it: escapes resolved, invalid UTF-8 and lone
// surrogates replaced by U+FFFD. The result is a new slice.
func unquote(s []byte) []byte {
	s = s[1 : len(s)-1]
	b := make([]byte, 0, len(s)+utf8.UTFMax)
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			switch e := s[r+1]; e {
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				rr := getu4(s[r:])
				r += 6
				if utf16.IsSurrogate(rr) {
					if rr1 := getu4(s[r:]); rr1 >= 0 {
						if dec := utf16.DecodeRune(rr, rr1); dec != unicode.ReplacementChar {
							r += 6
							b = utf8.AppendRune(b, dec)
							continue
						}
					}
					rr = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, rr)
				continue
			default: // '"', '\\', '/'
				b = append(b, e)
			}
			r += 2
		case c < utf8.RuneSelf:
			b = append(b, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			b = utf8.AppendRune(b, rr)
			r += size
		}
	}
	return b
}

// getu4 decodes \uXXXX at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c = c - '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// appendValidCompact appends the JSON text src to dst without its
// insignificant whitespace, as json.Compact does, and reports whether src
// is valid JSON (json.Valid); if not, dst is returned as it was. One pass
// when src is already compact, as payloads usually are.
func appendValidCompact(dst, src []byte) ([]byte, bool) {
	i := skipSpace(src, 0)
	if i >= len(src) {
		return dst, false
	}
	end, spaced := scanValueSpaced(src, i, 0)
	if end < 0 || skipSpace(src, end) != len(src) {
		return dst, false
	}
	if !spaced {
		return append(dst, src[i:end]...), true
	}
	return appendCompact(dst, src[i:end]), true
}

// appendCompact appends the valid JSON text src to dst without its
// insignificant whitespace, as json.Compact does.
func appendCompact(dst, src []byte) []byte {
	start := 0
	for i := 0; i < len(src); i++ {
		switch c := src[i]; {
		case c == '"':
			end, _ := scanString(src, i)
			i = end - 1
		case isSpace(c):
			dst = append(dst, src[start:i]...)
			start = i + 1
		}
	}
	return append(dst, src[start:]...)
}
