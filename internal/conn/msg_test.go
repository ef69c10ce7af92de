package conn

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/socketipc/socketipc/message"
)

// failing is a Transcoder whose Unmarshal always fails with err.
type failing struct {
	message.Transcoder
	err error
}

func (f failing) Unmarshal([]byte, any) error { return f.err }

// A payload that does not decode into a listener's T is a
// *message.PayloadTypeError naming the event it was decoded for, whatever
// the Transcoder's error; bytes that are not valid (a syntax error, or any
// failure to decode into any) are a *message.DecodeError.
func TestMsgDecodeErrors(t *testing.T) {
	mine := errors.New("wrong signature")
	syntax := json.Unmarshal([]byte("{"), new(any))
	for _, c := range []struct {
		err      error
		intoAny  bool
		wantType bool // else a DecodeError
	}{
		{mine, false, true},
		{syntax, false, false},
		{mine, true, false},
	} {
		m := &Msg{
			Topic:   &Topic{Name: "t", Event: "message.t"},
			Payload: []byte("1"),
			Frame:   []byte(`{"topic":"t","message":1}`),
			from:    &origin{transcoder: failing{message.JSON, c.err}, clientID: "c1"},
		}
		var err error
		if c.intoAny {
			_, err = m.PayloadValue()
		} else {
			var n int
			err = m.DecodePayload("message", &n)
		}
		if !errors.Is(err, c.err) {
			t.Errorf("%v: the transcoder's error is not in the chain", err)
		}
		var pte *message.PayloadTypeError
		var de *message.DecodeError
		switch {
		case c.wantType && errors.As(err, &pte):
			want := message.PayloadTypeError{Event: "message", Topic: "t", Type: reflect.TypeFor[int](), ClientID: "c1", Err: c.err}
			if *pte != want {
				t.Errorf("got %+v, want %+v", *pte, want)
			}
		case !c.wantType && errors.As(err, &de):
			if de.ClientID != "c1" || string(de.Raw) != string(m.Frame) {
				t.Errorf("got %+v", *de)
			}
		default:
			t.Errorf("%v (%T): want a PayloadTypeError: %v", err, err, c.wantType)
		}
	}
}
