package message

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// NoneTopic is sent in place of an empty topic, as the Node package documents.
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

func (jsonTranscoder) AppendEnvelope(dst []byte, topic string, msg any) ([]byte, error) {
	dst = append(dst, `{"topic":`...)
	var err error
	if dst, err = appendJSON(dst, topic); err != nil {
		return dst, err
	}
	dst = append(dst, `,"message":`...)
	if dst, err = appendJSON(dst, msg); err != nil {
		return dst, err
	}
	return append(dst, '}'), nil
}

func appendJSON(dst []byte, v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return dst, err
	}
	return append(dst, bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})...), nil
}

type wireEnvelope struct {
	Topic   *string         `json:"topic"`
	Message json.RawMessage `json:"message"`
}

func (jsonTranscoder) SplitEnvelope(frame []byte) ([]byte, []byte, error) {
	if !json.Valid(frame) {
		return nil, nil, ErrNotJSON
	}
	trimmed := bytes.TrimLeft(frame, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, nil, ErrNotObject
	}
	var env wireEnvelope
	if err := json.Unmarshal(frame, &env); err != nil || env.Topic == nil {
		return nil, nil, ErrNoTopic
	}
	return []byte(*env.Topic), env.Message, nil
}

func (jsonTranscoder) Unmarshal(payload []byte, v any) error {
	if len(payload) == 0 {
		payload = []byte("null")
	}
	return json.Unmarshal(payload, v)
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
	return append(out, f.Delimiter()...), nil
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
