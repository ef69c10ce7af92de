package message

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
)

func TestSendErrorChain(t *testing.T) {
	_, encErr := AppendFrame(nil, JSON, NulFraming, "topic.x", make(chan int))
	var ee *EncodeError
	if !errors.As(encErr, &ee) {
		t.Fatalf("AppendFrame error %T is not an *EncodeError", encErr)
	}
	var unsupported *json.UnsupportedTypeError
	if !errors.As(encErr, &unsupported) {
		t.Fatalf("the cause should be encoding/json's: %#v", ee.Err)
	}

	err := fmt.Errorf("server: %w", &SendError{Topic: "topic.x", Message: ee.Message, ClientID: "c1", Err: encErr})
	var se *SendError
	if !errors.As(err, &se) || se.Topic != "topic.x" || se.ClientID != "c1" {
		t.Fatalf("errors.As *SendError: %#v", se)
	}
	ee = nil
	if !errors.As(err, &ee) || ee.Topic != "topic.x" {
		t.Fatal("errors.As *EncodeError through *SendError")
	}
	if !errors.As(err, &unsupported) {
		t.Fatal("errors.As the cause through *SendError and *EncodeError")
	}
	// One "socketipc:", the topic once.
	if got, want := se.Error(), `socketipc: send "topic.x" to client c1: encode: json: unsupported type: chan int`; got != want {
		t.Errorf("text %q\nwant %q", got, want)
	}
	if got, want := encErr.Error(), `socketipc: encode "topic.x": json: unsupported type: chan int`; got != want {
		t.Errorf("text %q\nwant %q", got, want)
	}

	_, nanErr := AppendFrame(nil, JSON, NulFraming, "n", math.NaN())
	var uv *json.UnsupportedValueError
	if !errors.As(nanErr, &uv) || !strings.Contains(nanErr.Error(), "unsupported value: NaN") {
		t.Fatalf("NaN: %v", nanErr)
	}
}

func TestSendErrorSentinels(t *testing.T) {
	for _, sentinel := range []error{ErrSendAfterClose, ErrNoServer, ErrBadClient, ErrQueueFull, ErrConnectionClosed} {
		err := &SendError{Topic: "t", Message: 1, Err: sentinel}
		if !errors.Is(err, sentinel) {
			t.Errorf("errors.Is(%v, %v) = false", err, sentinel)
		}
		if want := `socketipc: send "t": ` + strings.TrimPrefix(sentinel.Error(), "socketipc: "); err.Error() != want {
			t.Errorf("message %q", err)
		}
		for _, other := range []error{ErrSendAfterClose, ErrNoServer, ErrBadClient, ErrQueueFull, ErrConnectionClosed} {
			if other != sentinel && errors.Is(err, other) {
				t.Errorf("%v matches %v", err, other)
			}
		}
	}
	b := &SendError{Topic: "b", Missed: []string{"c1", "c2"}, Err: ErrQueueFull}
	if !errors.Is(b, ErrQueueFull) || b.Error() != `socketipc: broadcast "b" missed 2 client(s): send queue full` {
		t.Errorf("broadcast message %q", b)
	}
	c := &SendError{Topic: "c", ClientID: "id", Err: ErrBadClient}
	if c.Error() != `socketipc: send "c" to client id: no connected client with that id` {
		t.Errorf("message %q", c)
	}
}

func TestDecodeErrorChain(t *testing.T) {
	frame := []byte(`{"topic":`)
	_, _, splitErr := JSON.SplitEnvelope(frame)
	err := fmt.Errorf("wrapped: %w", &DecodeError{Raw: frame, ClientID: "c9", Err: splitErr})
	var de *DecodeError
	if !errors.As(err, &de) || de.ClientID != "c9" || string(de.Raw) != string(frame) {
		t.Fatalf("errors.As *DecodeError: %#v", de)
	}
	if !errors.Is(err, ErrNotJSON) || errors.Is(err, ErrNoTopic) {
		t.Fatal("errors.Is through *DecodeError")
	}
	if want := `socketipc: decode frame "{\"topic\":" from client c9: frame is not valid JSON`; de.Error() != want {
		t.Errorf("message %q, want %q", de.Error(), want)
	}

	long := &DecodeError{Raw: []byte(strings.Repeat("x", 100)), Err: ErrNotObject}
	if want := `socketipc: decode frame "` + strings.Repeat("x", 64) + `"...: frame is not a JSON object`; long.Error() != want {
		t.Errorf("message %q", long.Error())
	}

	// A payload that can't be decoded into the listener's type.
	var n int
	uerr := JSON.Unmarshal([]byte(`"text"`), &n)
	de = &DecodeError{Raw: []byte(`{"topic":"t","message":"text"}`), Err: uerr}
	var te *json.UnmarshalTypeError
	if !errors.As(de, &te) || !strings.Contains(de.Error(), "cannot unmarshal string into Go value of type int") {
		t.Errorf("%v", de)
	}

	// FrameReader's errors.
	fr := NewFrameReader(strings.NewReader("abc"), NulFraming, 0)
	_, rerr := fr.Next()
	if !errors.Is(rerr, io.ErrUnexpectedEOF) || !errors.As(rerr, &de) || string(de.Raw) != "abc" {
		t.Errorf("%#v", rerr)
	}
	if want := `socketipc: decode frame "abc": stream ended inside a frame: unexpected EOF`; rerr.Error() != want {
		t.Errorf("message %q", rerr)
	}
	fr = NewFrameReader(strings.NewReader("abcdef"), NulFraming, 4)
	_, rerr = fr.Next()
	if !errors.Is(rerr, ErrFrameTooLarge) || rerr.Error() != `socketipc: decode frame "abcdef": frame too large: more than 4 bytes without a delimiter` {
		t.Errorf("%v", rerr)
	}
}

// NewDecodeError quotes a large frame in part, with its size, and keeps
// the cause's copy of the peer's bytes and its text short.
func TestNewDecodeErrorIsBounded(t *testing.T) {
	big := `{"topic":"t","message":` + strings.Repeat("9", 1<<20) + `}`
	var v any
	cause := JSON.Unmarshal([]byte(strings.Repeat("9", 1<<20)), &v)
	if cause == nil {
		t.Fatal("a 1 MB number decoded")
	}
	de := NewDecodeError([]byte(big), "c1", cause)
	if len(de.Raw) != MaxRawInError || string(de.Raw) != big[:MaxRawInError] || de.Size != len(big) {
		t.Errorf("Raw %d bytes, Size %d", len(de.Raw), de.Size)
	}
	text := de.Error()
	if len(text) > 512 || !strings.Contains(text, fmt.Sprintf(`"... (%d bytes) from client c1: `, len(big))) {
		t.Errorf("text (%d bytes) %.300q", len(text), text)
	}
	var te *json.UnmarshalTypeError
	if errors.As(de, &te) && len(te.Value) > MaxRawInError+len("...") {
		t.Errorf("the cause keeps %d bytes of the number", len(te.Value))
	}
	small := NewDecodeError([]byte(`{"topic":1}`), "", ErrNoTopic)
	if want := `socketipc: decode frame "{\"topic\":1}": ` + ErrNoTopic.Error(); small.Error() != want || small.Size != 11 {
		t.Errorf("%q, want %q", small.Error(), want)
	}
}

// Every error text of the package says "socketipc:" once, at its start,
// whatever it wraps.
func TestErrorTextsSaySocketipcOnce(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&SendError{Topic: "hello", Err: ErrSendAfterClose}, `socketipc: send "hello": send after close`},
		{&SendError{Topic: "t", Err: &EncodeError{Topic: "other", Err: ErrQueueFull}}, `socketipc: send "t": encode "other": send queue full`},
		{&DiscardedError{ClientID: "c1", Messages: 2, Bytes: 10, Err: ErrSlowClient},
			`socketipc: client c1 dropped with 2 accepted message(s) (10 bytes) not written: slow client disconnected`},
		{&DiscardedError{Messages: 1, Bytes: 3, Err: io.ErrShortWrite},
			`socketipc: the connection dropped with 1 accepted message(s) (3 bytes) not written: short write`},
		{NewDecodeError([]byte("xy"), "c1", ErrTooManyBadFrames), `socketipc: decode frame "xy" from client c1: too many malformed frames`},
		{&RepeatedError{Err: &SendError{Topic: "t", Err: ErrQueueFull}, Count: 3}, `socketipc: send "t": send queue full (and 2 more like it)`},
	} {
		got := c.err.Error()
		if got != c.want {
			t.Errorf("text %q\nwant %q", got, c.want)
		}
		if n := strings.Count(got, "socketipc:"); n != 1 {
			t.Errorf("%q says socketipc: %d times", got, n)
		}
	}
}
