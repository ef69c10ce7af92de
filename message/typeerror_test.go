package message

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// PayloadTypeError names the event, the topic, the type and (on a server)
// the client, once each, and keeps the decoder's error in its chain.
func TestPayloadTypeErrorText(t *testing.T) {
	var n int
	cause := json.Unmarshal([]byte(`{"a":1}`), &n)
	for _, c := range []struct {
		clientID, want string
	}{
		{"", `socketipc: message.job listener wants int, but the payload of topic "job" does not fit: json: cannot unmarshal object into Go value of type int`},
		{"c1", `socketipc: message listener wants int, but the payload of topic "job" from client c1 does not fit: json: cannot unmarshal object into Go value of type int`},
	} {
		event := "message.job"
		if c.clientID != "" {
			event = "message"
		}
		err := NewPayloadTypeError(event, "job", reflect.TypeFor[int](), c.clientID, cause)
		if got := err.Error(); got != c.want {
			t.Errorf("text %q\nwant %q", got, c.want)
		}
		var ute *json.UnmarshalTypeError
		if !errors.As(err, &ute) {
			t.Errorf("%v: the decoder's error is not in the chain", err)
		}
		var de *DecodeError
		if errors.As(err, &de) {
			t.Errorf("%v matches *DecodeError: it must not, the frame was valid", err)
		}
	}
}

// The cause's copies of the peer's bytes are cut short, as in DecodeError.
func TestPayloadTypeErrorClipsCause(t *testing.T) {
	long := strings.Repeat("x", 10*MaxRawInError)
	err := NewPayloadTypeError("e", "t", reflect.TypeFor[int](), "", &json.UnmarshalTypeError{Value: long, Type: reflect.TypeFor[int]()})
	var ute *json.UnmarshalTypeError
	if !errors.As(err, &ute) || len(ute.Value) > MaxRawInError+3 {
		t.Errorf("cause keeps %d bytes of the peer's input", len(ute.Value))
	}
}
