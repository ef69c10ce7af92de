package message

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/socketipc/socketipc/internal/errtext"
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

// NewPayloadTypeError returns the PayloadTypeError for a listener of event
// whose parameter type t the payload of topic (from clientID, on a server)
// did not decode into, because of err. Like NewDecodeError, it keeps at
// most about MaxRawInError bytes of what the peer sent in each of the
// event, the topic and the cause (a longer one is cut, and ends in "...").
func NewPayloadTypeError(event, topic string, t reflect.Type, clientID string, err error) *PayloadTypeError {
	return &PayloadTypeError{Event: clipString(event), Topic: clipString(topic), Type: t, ClientID: clientID, Err: clipCause(err)}
}

// Error names the event, the type, the topic (when the event does not) and
// the client once each; its text stays under about 512 bytes.
func (e *PayloadTypeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "socketipc: %s listener wants %v, but the payload", quoteShort(e.Event, false), e.Type)
	if e.Event != "message."+e.Topic {
		fmt.Fprintf(&b, " of topic %s", quoteShort(e.Topic, true))
	}
	if e.ClientID != "" {
		fmt.Fprintf(&b, " from client %s", e.ClientID)
	}
	fmt.Fprintf(&b, " does not fit: %s", shortCause(errtext.Cause(e.Err)))
	return b.String()
}

// quoteShort writes s, quoted if asked, cut to quotedInText bytes.
func quoteShort(s string, quote bool) string {
	suffix := ""
	if len(s) > quotedInText {
		s, suffix = s[:quotedInText], "..."
	}
	if quote {
		return fmt.Sprintf("%q%s", s, suffix)
	}
	return s + suffix
}

// Unwrap returns the decoding error.
func (e *PayloadTypeError) Unwrap() error { return e.Err }
