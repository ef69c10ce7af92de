package message

import (
	"fmt"
	"reflect"
)

// PayloadTypeError reports a payload that is a valid frame but does not fit
// the type a listener asked for: a mistake in the program (or a disagreement
// about the message's shape), not a bad frame from the peer, so it is kept
// apart from DecodeError. Only that listener is skipped; the others of the
// event, and the connection, are unaffected.
type PayloadTypeError struct {
	Event    string       // the event whose listener was skipped, "message.<topic>" say
	Topic    string       // the message's topic
	Type     reflect.Type // the listener's parameter type
	ClientID string       // the sending client's id on a server; empty on a client
	Err      error        // why the payload did not decode into Type
}

func (e *PayloadTypeError) Error() string {
	from := ""
	if e.ClientID != "" {
		from = " from client " + e.ClientID
	}
	return fmt.Sprintf("socketipc: %s listener wants %v, but the payload of topic %q%s does not fit: %v",
		e.Event, e.Type, e.Topic, from, clipCause(e.Err))
}

// Unwrap returns the decoding error.
func (e *PayloadTypeError) Unwrap() error { return e.Err }

// NewPayloadTypeError returns the PayloadTypeError for a listener of event
// whose parameter type t the payload of topic (from clientID, on a server)
// did not decode into, because of err. The copies of the peer's bytes that
// err's known types carry are cut short, as in NewDecodeError.
func NewPayloadTypeError(event, topic string, t reflect.Type, clientID string, err error) *PayloadTypeError {
	return &PayloadTypeError{Event: event, Topic: topic, Type: t, ClientID: clientID, Err: clipCause(err)}
}
