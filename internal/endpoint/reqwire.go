package endpoint

import (
	"bytes"
	"encoding/json"
	"strconv"
	"sync"

	"github.com/socketipc/socketipc/message"
)

// The envelopes of the request/reply convention, written and read by hand
// with the JSON transcoder: through a struct, the raw id (a
// json.RawMessage, which has MarshalJSON) sends the whole value to
// encoding/json, several times slower than the rest of a round trip's
// encoding. Other transcoders get the structs (request.go).

var envBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

func getBuf() *[]byte { return envBufs.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) <= 64<<10 {
		*b = (*b)[:0]
		envBufs.Put(b)
	}
}

// jsonPrefix is what message.JSON writes before the message of an empty topic.
const jsonPrefix = `{"topic":"","message":`

// appendJSON appends v encoded as the JSON transcoder encodes a message
// (Node's bytes: no HTML escaping), with its fast paths.
func appendJSON(dst []byte, v any) ([]byte, error) {
	start := len(dst)
	out, err := message.JSON.AppendEnvelope(dst, "", v)
	if err != nil {
		return dst, err
	}
	enc := out[start:]
	if !bytes.HasPrefix(enc, []byte(jsonPrefix)) || enc[len(enc)-1] != '}' {
		// Not the envelope expected: encode alone.
		b, err := json.Marshal(v)
		return append(dst, b...), err
	}
	n := copy(enc, enc[len(jsonPrefix):len(enc)-1])
	return out[:start+n], nil
}

// appendRequest appends {"id":"<id>","data":<data>}.
func appendRequest(dst []byte, id uint64, data any) ([]byte, error) {
	dst = append(dst, `{"id":"`...)
	dst = strconv.AppendUint(dst, id, 10)
	dst = append(dst, `","data":`...)
	dst, err := appendJSON(dst, data)
	return append(dst, '}'), err
}

// appendReply appends {"id":<id>,"data":<data>}.
func appendReply(dst []byte, id []byte, data any) ([]byte, error) {
	dst = append(dst, `{"id":`...)
	dst = append(dst, id...)
	dst = append(dst, `,"data":`...)
	dst, err := appendJSON(dst, data)
	return append(dst, '}'), err
}

// appendFailure appends {"id":<id>,"error":{"message":<text>}}.
func appendFailure(dst []byte, id []byte, text string) []byte {
	dst = append(dst, `{"id":`...)
	dst = append(dst, id...)
	dst = append(dst, `,"error":{"message":`...)
	dst, _ = appendJSON(dst, text) // a string always encodes
	return append(dst, `}}`...)
}

// splitFields returns the raw values of the top-level keys "id", "data"
// and "error" of the JSON object b; ok is false if b is not an object it
// can read. Keys written with escapes are not recognised.
func splitFields(b []byte) (id, data, errv []byte, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, nil, nil, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return nil, nil, nil, true
	}
	for i < len(b) {
		if b[i] != '"' {
			return nil, nil, nil, false
		}
		kEnd := skipString(b, i)
		if kEnd < 0 {
			return nil, nil, nil, false
		}
		key := b[i+1 : kEnd-1]
		i = skipSpace(b, kEnd)
		if i >= len(b) || b[i] != ':' {
			return nil, nil, nil, false
		}
		i = skipSpace(b, i+1)
		vEnd := skipValue(b, i)
		if vEnd < 0 {
			return nil, nil, nil, false
		}
		switch string(key) {
		case "id":
			id = b[i:vEnd]
		case "data":
			data = b[i:vEnd]
		case "error":
			errv = b[i:vEnd]
		}
		i = skipSpace(b, vEnd)
		if i >= len(b) {
			return nil, nil, nil, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return id, data, errv, true
		default:
			return nil, nil, nil, false
		}
	}
	return nil, nil, nil, false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] ('"'), or -1.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the index after the JSON value starting at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end := skipString(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// ourID parses an id this endpoint made: a decimal string.
func ourID(raw []byte) (uint64, bool) {
	if len(raw) < 3 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(raw[1:len(raw)-1]), 10, 64)
	return n, err == nil
}
