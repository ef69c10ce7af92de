package natsbridge

import (
	"errors"
	"fmt"
	"strings"
)

// ErrBadToken is returned by DecodeTopic for a subject token that
// EncodeTopic could not have produced.
var ErrBadToken = errors.New("natsbridge: not an encoded topic")

const hexDigits = "0123456789ABCDEF"

// keep reports whether b may appear as itself in an encoded topic: printable
// ASCII except the characters NATS gives a meaning in subjects (space, '.',
// '*', '>') and '%', the escape. Everything else becomes %XX, byte by byte,
// so that any topic maps to exactly one token and back.
func keep(b byte) bool {
	return b > ' ' && b < 0x7f && b != '.' && b != '*' && b != '>' && b != '%'
}

// EncodeTopic maps a socketipc topic to one NATS subject token, reversibly:
// the bytes NATS does not allow in a token (space, '.', '*', '>', control
// characters, bytes outside ASCII) and '%' itself become %XX (upper-case
// hex). The empty topic has no token: it encodes as "%", which decodes back
// to "".
func EncodeTopic(topic string) string {
	if topic == "" {
		return "%"
	}
	n := 0
	for i := 0; i < len(topic); i++ {
		if !keep(topic[i]) {
			n++
		}
	}
	if n == 0 {
		return topic
	}
	var sb strings.Builder
	sb.Grow(len(topic) + 2*n)
	for i := 0; i < len(topic); i++ {
		b := topic[i]
		if keep(b) {
			sb.WriteByte(b)
			continue
		}
		sb.WriteByte('%')
		sb.WriteByte(hexDigits[b>>4])
		sb.WriteByte(hexDigits[b&0xf])
	}
	return sb.String()
}

// DecodeTopic is the inverse of EncodeTopic. A token EncodeTopic would not
// produce (a bad escape, a character it escapes) fails with ErrBadToken.
func DecodeTopic(token string) (string, error) {
	if token == "%" {
		return "", nil
	}
	if !strings.Contains(token, "%") {
		for i := 0; i < len(token); i++ {
			if !keep(token[i]) {
				return "", fmt.Errorf("%w: %q", ErrBadToken, token)
			}
		}
		if token == "" {
			return "", fmt.Errorf("%w: empty token", ErrBadToken)
		}
		return token, nil
	}
	out := make([]byte, 0, len(token))
	for i := 0; i < len(token); i++ {
		b := token[i]
		if b != '%' {
			if !keep(b) {
				return "", fmt.Errorf("%w: %q", ErrBadToken, token)
			}
			out = append(out, b)
			continue
		}
		if i+2 >= len(token) {
			return "", fmt.Errorf("%w: %q: short escape", ErrBadToken, token)
		}
		hi, lo := unhex(token[i+1]), unhex(token[i+2])
		if hi < 0 || lo < 0 || keep(byte(hi<<4|lo)) {
			return "", fmt.Errorf("%w: %q: bad escape", ErrBadToken, token)
		}
		out = append(out, byte(hi<<4|lo))
		i += 2
	}
	return string(out), nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// validPrefix reports whether prefix is a literal NATS subject: dot-separated
// non-empty tokens without wildcards or white space.
func validPrefix(prefix string) bool {
	if prefix == "" {
		return false
	}
	for _, tok := range strings.Split(prefix, ".") {
		if tok == "" || tok == "*" || tok == ">" {
			return false
		}
		for i := 0; i < len(tok); i++ {
			if tok[i] <= ' ' || tok[i] == 0x7f {
				return false
			}
		}
	}
	return true
}
