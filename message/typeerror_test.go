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
		{"", `socketipc: message.job listener wants int, but the payload does not fit: json: cannot unmarshal object into Go value of type int`},
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

// What the peer sent is kept cut short, as in DecodeError: the topic (and
// an event made of it) and the cause's copies of the payload; the text
// stays short however long they are.
func TestPayloadTypeErrorIsBounded(t *testing.T) {
	long := strings.Repeat("x", 10*MaxRawInError)
	for _, event := range []string{"message", "message." + long} {
		err := NewPayloadTypeError(event, long, reflect.TypeFor[int](), "c1", &json.UnmarshalTypeError{Value: long, Type: reflect.TypeFor[int]()})
		var ute *json.UnmarshalTypeError
		if !errors.As(err, &ute) || len(ute.Value) > MaxRawInError+3 {
			t.Errorf("cause keeps %d bytes of the peer's input", len(ute.Value))
		}
		if len(err.Topic) > MaxRawInError+3 || len(err.Event) > MaxRawInError+3 {
			t.Errorf("keeps a topic of %d bytes, an event of %d", len(err.Topic), len(err.Event))
		}
		if n := len(err.Error()); n > 512 {
			t.Errorf("text of %d bytes: %.100q...", n, err.Error())
		}
	}
	err := NewPayloadTypeError("message", long, reflect.TypeFor[int](), "c1", errors.New("no"))
	want := `socketipc: message listener wants int, but the payload of topic "` + long[:64] + `"... from client c1 does not fit: no`
	if err.Error() != want {
		t.Errorf("text %q\nwant %q", err.Error(), want)
	}
}
