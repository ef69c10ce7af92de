package message_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/socketipc/socketipc/message"
)

// One frame as it travels on the socket: UTF-8 JSON text of an object with
// "topic" and "message", then two NUL bytes. This is the exact byte string
// the Node package writes for the same call.
func ExampleAppendFrame() {
	frame, err := message.AppendFrame(nil, message.JSON, message.NulFraming, "hi", 1)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%q\n", frame)
	fmt.Printf("% x\n", frame)

	// An empty topic is sent as "none"; before socket-ipc 0.4 frames ended
	// with "%EOM%", which the JSON transcoder keeps out of the text.
	legacy, _ := message.AppendFrame(nil, message.JSON, message.LegacyFraming, "", "100%EOM%")
	fmt.Printf("%s\n", legacy)
	// Output:
	// "{\"topic\":\"hi\",\"message\":1}\x00\x00"
	// 7b 22 74 6f 70 69 63 22 3a 22 68 69 22 2c 22 6d 65 73 73 61 67 65 22 3a 31 7d 00 00
	// {"topic":"none","message":"100\u0025EOM%"}%EOM%
}

// shortKeys is a Transcoder with other key names: {"t":topic,"m":message}.
// It is JSON text, which never holds a raw NUL byte, so it can't produce the
// "\x00\x00" delimiter inside a frame. Both ends must use it.
type shortKeys struct{}

func (shortKeys) AppendEnvelope(dst []byte, topic string, msg any) ([]byte, error) {
	b, err := json.Marshal(struct {
		T string `json:"t"`
		M any    `json:"m"`
	}{topic, msg})
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

func (shortKeys) SplitEnvelope(frame []byte) (topic, payload []byte, err error) {
	var env struct {
		T *string         `json:"t"`
		M json.RawMessage `json:"m"`
	}
	if err := json.Unmarshal(frame, &env); err != nil {
		return nil, nil, err
	}
	if env.T == nil {
		return nil, nil, errors.New(`no "t" member`)
	}
	return []byte(*env.T), env.M, nil
}

func (shortKeys) Unmarshal(payload []byte, v any) error {
	if len(payload) == 0 {
		payload = []byte("null") // a frame without "m"
	}
	return json.Unmarshal(payload, v)
}

// A custom Transcoder: the same envelope under other key names. Pass it as
// Options.Transcoder to the server and to every client; here one frame is
// encoded and read back as the library does it.
func ExampleTranscoder() {
	var tc message.Transcoder = shortKeys{}
	frame, err := message.AppendFrame(nil, tc, message.NulFraming, "sum", map[string]int{"a": 2, "b": 3})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%q\n", frame)

	// The receiving end cuts the delimiter off, then splits the envelope.
	body := frame[:len(frame)-len(message.NulFraming.Delimiter())]
	topic, payload, err := tc.SplitEnvelope(body)
	if err != nil {
		panic(err)
	}
	var args struct{ A, B int }
	if err := tc.Unmarshal(payload, &args); err != nil {
		panic(err)
	}
	fmt.Println(string(topic), args.A+args.B)
	// Output:
	// "{\"t\":\"sum\",\"m\":{\"a\":2,\"b\":3}}\x00\x00"
	// sum 5
}
