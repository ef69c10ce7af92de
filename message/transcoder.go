package message

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// NoneTopic is sent in place of an empty topic, as the Node package
// documents, and an empty topic received (the Node code sends "") is
// delivered as NoneTopic.
const NoneTopic = "none"

// Transcoder turns a topic and a message into the text of one frame, and the
// text of one frame back into its topic and payload. Both ends of a
// connection must use the same Transcoder. JSON is the default; a custom one
// must never produce the framing delimiter inside a frame.
type Transcoder interface {
	// AppendEnvelope appends the encoding of topic and msg, without a
	// delimiter, to dst and returns the extended slice.
	AppendEnvelope(dst []byte, topic string, msg any) ([]byte, error)
	// SplitEnvelope parses one frame (delimiter removed) into its topic and
	// the encoded bytes of its payload. Both may alias frame. A frame without
	// a payload gives a nil payload, which Unmarshal reads as null.
	SplitEnvelope(frame []byte) (topic []byte, payload []byte, err error)
	// Unmarshal decodes payload bytes from SplitEnvelope into v, a non-nil pointer.
	Unmarshal(payload []byte, v any) error
}

// JSON is the default Transcoder: the Node package's JSON envelope
// {"topic":...,"message":...}, written without HTML escaping.
var JSON Transcoder = jsonTranscoder{}

type jsonTranscoder struct{}

// Errors about an incoming frame's shape, wrapped in a *DecodeError.
var (
	ErrNotJSON   = errors.New("frame is not valid JSON")
	ErrNotObject = errors.New("frame is not a JSON object")
	ErrNoTopic   = errors.New("frame has no string topic")
)

// AppendEnvelope writes {"topic":...,"message":...} with no spaces, msg
// encoded byte for byte as a json.Encoder with SetEscapeHTML(false) would
// (so <, > and & are written as is, as Node writes them; U+2028, U+2029 are
// escaped and invalid UTF-8 becomes \ufffd). Strings, bools, numbers, nil,
// json.RawMessage, map[string]any and []any are encoded without reflection
// (and without allocating, beyond growing dst, for maps of up to 16 keys);
// other values go through a pooled json.Encoder. A value encoding/json can't encode gives its error and dst
// unchanged.
func (jsonTranscoder) AppendEnvelope(dst []byte, topic string, msg any) ([]byte, error) {
	start := len(dst)
	dst = append(dst, `{"topic":`...)
	dst = appendString(dst, topic)
	dst = append(dst, `,"message":`...)
	dst, err := appendJSON(dst, msg)
	if err != nil {
		return dst[:start], err
	}
	return append(dst, '}'), nil
}

// SplitEnvelope checks that frame is JSON text (as json.Valid does) of an
// object with a string member "topic", in one pass. Member names match
// exactly, as in JavaScript's JSON.parse (not case-insensitively, as
// encoding/json matches struct fields); a repeated member counts the last
// time, as in both. The topic aliases frame unless it has escapes or invalid
// UTF-8 (which is decoded as encoding/json does); the payload, the text of
// the "message" member, always aliases frame, and is nil when it is missing.
func (jsonTranscoder) SplitEnvelope(frame []byte) ([]byte, []byte, error) {
	i := skipSpace(frame, 0)
	if i >= len(frame) {
		return nil, nil, ErrNotJSON
	}
	if frame[i] != '{' {
		if !validJSON(frame) {
			return nil, nil, ErrNotJSON
		}
		return nil, nil, ErrNotObject
	}
	var (
		topicStart, topicEnd = -1, -1 // the last "topic" member, when a string
		topicFlags           uint8
		payload              []byte
	)
	i = skipSpace(frame, i+1)
	if i < len(frame) && frame[i] == '}' {
		i++
	} else {
		for {
			// A member: name, colon, value.
			if i >= len(frame) || frame[i] != '"' {
				return nil, nil, ErrNotJSON
			}
			nameEnd, nameFlags := scanString(frame, i)
			if nameEnd < 0 {
				return nil, nil, ErrNotJSON
			}
			name := frame[i+1 : nameEnd-1]
			if nameFlags&strEscape != 0 {
				name = unquote(frame[i:nameEnd])
			}
			i = skipSpace(frame, nameEnd)
			if i >= len(frame) || frame[i] != ':' {
				return nil, nil, ErrNotJSON
			}
			i = skipSpace(frame, i+1)
			if i >= len(frame) {
				return nil, nil, ErrNotJSON
			}
			valStart := i
			var valFlags uint8
			if frame[i] == '"' {
				i, valFlags = scanString(frame, i)
			} else {
				i = scanValue(frame, i, 1)
			}
			if i < 0 {
				return nil, nil, ErrNotJSON
			}
			switch string(name) {
			case "topic":
				if frame[valStart] == '"' {
					topicStart, topicEnd, topicFlags = valStart, i, valFlags
				} else {
					topicStart, topicEnd = -1, -1
				}
			case "message":
				payload = frame[valStart:i:i]
			}
			i = skipSpace(frame, i)
			if i >= len(frame) {
				return nil, nil, ErrNotJSON
			}
			if frame[i] == '}' {
				i++
				break
			}
			if frame[i] != ',' {
				return nil, nil, ErrNotJSON
			}
			i = skipSpace(frame, i+1)
		}
	}
	if skipSpace(frame, i) != len(frame) {
		return nil, nil, ErrNotJSON
	}
	if topicStart < 0 {
		return nil, nil, ErrNoTopic
	}
	topic := frame[topicStart+1 : topicEnd-1 : topicEnd-1]
	if topicFlags&strEscape != 0 || topicFlags&strHigh != 0 && !utf8.Valid(topic) {
		topic = unquote(frame[topicStart:topicEnd])
	}
	return topic, payload, nil
}

// Unmarshal decodes payload into v with encoding/json's semantics. An empty
// or nil payload (a frame without "message") reads as null. Into an empty
// interface, or into a zero value of a type without custom unmarshalers,
// it decodes without encoding/json's reflection walk (jsondec.go), falling
// back to encoding/json for anything that path is not sure to get exactly
// right.
func (jsonTranscoder) Unmarshal(payload []byte, v any) error {
	if len(payload) == 0 {
		payload = nullJSON
	}
	switch p := v.(type) {
	case *json.RawMessage:
		// encoding/json trims whitespace around the value; SplitEnvelope's
		// payloads have none.
		if p != nil && !isSpace(payload[0]) && !isSpace(payload[len(payload)-1]) && validJSON(payload) {
			*p = append((*p)[:0], payload...)
			return nil
		}
	case *string:
		if s, ok := plainString(payload); p != nil && ok {
			*p = s
			return nil
		}
	case *any:
		if p != nil && *p == nil {
			if x, ok := fastUnmarshalAny(payload); ok {
				*p = x
				return nil
			}
		}
	default:
		if fastUnmarshal(payload, v) {
			return nil
		}
	}
	return json.Unmarshal(payload, v)
}

var nullJSON = []byte("null")

// plainString decodes payload when it is exactly a JSON string without
// escapes, in valid UTF-8.
func plainString(payload []byte) (string, bool) {
	if len(payload) < 2 || payload[0] != '"' {
		return "", false
	}
	end, flags := scanString(payload, 0)
	if end != len(payload) || flags&strEscape != 0 || flags&strHigh != 0 && !utf8.Valid(payload) {
		return "", false
	}
	return string(payload[1 : end-1]), true
}

// AppendFrame appends one complete frame (envelope and delimiter) to dst.
// An empty topic is sent as NoneTopic. A failure is an *EncodeError.
func AppendFrame(dst []byte, t Transcoder, f Framing, topic string, msg any) ([]byte, error) {
	if topic == "" {
		topic = NoneTopic
	}
	start := len(dst)
	out, err := t.AppendEnvelope(dst, topic, msg)
	if err != nil {
		return dst[:start], &EncodeError{Topic: topic, Message: msg, Err: err}
	}
	if t == JSON && f.Delimiter() == LegacyFraming.delim {
		out = escapeLegacyDelimiter(out, start)
	}
	return append(out, f.Delimiter()...), nil
}

// escapeLegacyDelimiter keeps "%EOM%" out of the JSON text out[start:]: in
// JSON it can only be inside a string, where the '%' that begins it is
// written as \u0025 instead, which every JSON reader decodes back to '%'.
// (socket-ipc 0.2.0 writes it raw, and its frame is then cut in two by the
// reader.) Text without "%EOM%" is left as it is, byte for byte.
func escapeLegacyDelimiter(out []byte, start int) []byte {
	delim := []byte(LegacyFraming.delim)
	text := out[start:]
	if !bytes.Contains(text, delim) {
		return out
	}
	escaped := make([]byte, 0, len(text)+len(`\u0025`))
	for i := 0; i < len(text); i++ {
		if text[i] == '%' && bytes.HasPrefix(text[i:], delim) {
			escaped = append(escaped, `\u0025`...)
			continue
		}
		escaped = append(escaped, text[i])
	}
	return append(out[:start], escaped...)
}

// Framing is the delimiter that ends each frame. The zero value is the
// Node package 0.4 framing, two NUL bytes.
type Framing struct{ delim string }

var (
	// NulFraming ends frames with "\x00\x00" (socket-ipc 0.4 and later). The default.
	NulFraming = Framing{"\x00\x00"}
	// LegacyFraming ends frames with "%EOM%" (socket-ipc before 0.4).
	LegacyFraming = Framing{"%EOM%"}
)

// Delimiter returns the bytes that end a frame.
func (f Framing) Delimiter() string {
	if f.delim == "" {
		return NulFraming.delim
	}
	return f.delim
}

func (f Framing) String() string { return fmt.Sprintf("%q", f.Delimiter()) }
