package message

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/socketipc/socketipc/internal/errtext"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrSendAfterClose: Send or Broadcast was called after Close.
	ErrSendAfterClose = errors.New("socketipc: send after close")
	// ErrNoServer: a client's Send found no live connection to a server.
	ErrNoServer = errors.New("socketipc: not connected to a server")
	// ErrBadClient: a server's Send named a client id that is not connected.
	ErrBadClient = errors.New("socketipc: no connected client with that id")
	// ErrQueueFull: the connection's send queue has no room for the frame.
	ErrQueueFull = errors.New("socketipc: send queue full")
	// ErrFrameTooLarge: an incoming frame is longer than the maximum frame size.
	ErrFrameTooLarge = errors.New("socketipc: frame too large")
	// ErrConnectionClosed: the connection was closing or had ended, so the
	// frame was not queued (a Broadcast lists such clients in Missed).
	ErrConnectionClosed = errors.New("socketipc: connection closed")
	// ErrTooManyBadFrames: a peer sent more malformed frames in a short time
	// than a working peer would, and its connection was dropped.
	ErrTooManyBadFrames = errors.New("socketipc: too many malformed frames")
)

// SendError is every failed Send or Broadcast: what was not sent, to whom,
// and why (Err, which errors.Is and errors.As see through).
type SendError struct {
	Topic    string
	Message  any
	ClientID string   // the addressee of a server's Send; empty otherwise
	Missed   []string // for Broadcast: the client ids that did not get the message
	Err      error
}

func (e *SendError) Error() string {
	cause := errtext.Cause(e.Err)
	if ee, ok := e.Err.(*EncodeError); ok && ee.Topic == e.Topic {
		cause = "encode: " + errtext.Cause(ee.Err) // the topic once
	}
	switch {
	case e.ClientID != "":
		return fmt.Sprintf("socketipc: send %q to client %s: %s", e.Topic, e.ClientID, cause)
	case len(e.Missed) > 0:
		return fmt.Sprintf("socketipc: broadcast %q missed %d client(s): %s", e.Topic, len(e.Missed), cause)
	default:
		return fmt.Sprintf("socketipc: send %q: %s", e.Topic, cause)
	}
}

func (e *SendError) Unwrap() error { return e.Err }

// EncodeError says a message could not be encoded. A failed send wraps it in
// a *SendError, as the Node package's EncodeError is a kind of SendError.
type EncodeError struct {
	Topic   string
	Message any
	Err     error
}

func (e *EncodeError) Error() string {
	return fmt.Sprintf("socketipc: encode %q: %s", e.Topic, errtext.Cause(e.Err))
}

func (e *EncodeError) Unwrap() error { return e.Err }

// DecodeError says an incoming frame, or its payload, could not be decoded.
// Raw quotes the frame: all of it when it is at most MaxRawInError bytes,
// else its first MaxRawInError bytes; Size is the frame's full length (for
// a frame over the size limit or cut off by the end of the stream, the
// bytes received). ClientID is the sender's id on a server. An error holds
// at most about MaxRawInError bytes of what the peer sent, and its text
// at most about 512 bytes, however large the frame.
type DecodeError struct {
	Raw      []byte
	Size     int
	ClientID string
	Err      error
}

// MaxRawInError bounds how many bytes of a frame a DecodeError keeps.
const MaxRawInError = 1024

// Bounds on the text of a DecodeError: how much of the frame it quotes and
// how much of its cause's text it shows.
const (
	quotedInText   = 64
	maxCauseInText = 256
)

// NewDecodeError returns the DecodeError for frame and its cause err:
// Raw is a copy of at most MaxRawInError bytes of frame, Size its length,
// and the peer's bytes that err's known types carry (the literal of a
// number out of range, say) are cut to that bound too, so the error never
// keeps the frame alive nor grows with it.
func NewDecodeError(frame []byte, clientID string, err error) *DecodeError {
	return &DecodeError{
		Raw:      bytes.Clone(frame[:min(len(frame), MaxRawInError)]),
		Size:     len(frame),
		ClientID: clientID,
		Err:      clipCause(err),
	}
}

// clipCause shortens, in place, the copies of peer input that the
// decoding errors of the standard library carry; err is fresh from a
// decoder, so nobody else holds it.
func clipCause(err error) error {
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		te.Value = clipString(te.Value)
		te.Field = clipString(te.Field)
	}
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		ne.Num = clipString(ne.Num)
	}
	return err
}

func clipString(s string) string {
	if len(s) <= MaxRawInError {
		return s
	}
	return strings.Clone(s[:MaxRawInError]) + "..."
}

func (e *DecodeError) Error() string {
	raw := e.Raw
	suffix := ""
	if len(raw) > quotedInText {
		raw, suffix = raw[:quotedInText], "..."
	}
	if e.Size > len(raw) {
		suffix += fmt.Sprintf(" (%d bytes)", e.Size)
	}
	cause := shortCause(errtext.Cause(e.Err))
	if e.ClientID != "" {
		return fmt.Sprintf("socketipc: decode frame %q%s from client %s: %s", raw, suffix, e.ClientID, cause)
	}
	return fmt.Sprintf("socketipc: decode frame %q%s: %s", raw, suffix, cause)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// shortCause cuts the text of an error's cause to maxCauseInText bytes.
func shortCause(cause string) string {
	if len(cause) > maxCauseInText {
		return fmt.Sprintf("%s... (%d bytes)", cause[:maxCauseInText], len(cause))
	}
	return cause
}

// RepeatedError is an error event that stands for Count errors of one kind
// from one source (the same client, or the Server or Client itself) that
// happened while the first of them was waiting to be delivered: Err is that
// first one, and the Count-1 others were counted instead of queued, so a
// storm of failures cannot queue events without bound (a slow error
// listener would otherwise fall ever further behind). Only events are
// folded: each failing call still returns its own error. errors.Is and
// errors.As see through to Err.
type RepeatedError struct {
	Err   error
	Count int
}

func (e *RepeatedError) Error() string {
	return fmt.Sprintf("%v (and %d more like it)", e.Err, e.Count-1)
}

func (e *RepeatedError) Unwrap() error { return e.Err }

// ErrSlowClient: the server dropped a client whose send queue overflowed,
// as server Options.DisconnectSlowClients asks.
var ErrSlowClient = errors.New("socketipc: slow client disconnected")

// DiscardedError says a connection ended with messages that Send or
// Broadcast had accepted (returned nil for) and that were never written in
// whole: how many, their bytes, and why (Err: ErrSlowClient, or the write
// or flush error). Written means handed to the kernel: a peer that dies
// later can still lose what was written (see docs/RELIABILITY.md).
type DiscardedError struct {
	ClientID string
	Messages int
	Bytes    int
	Err      error
}

func (e *DiscardedError) Error() string {
	who := "the connection"
	if e.ClientID != "" {
		who = "client " + e.ClientID
	}
	return fmt.Sprintf("socketipc: %s dropped with %d accepted message(s) (%d bytes) not written: %s", who, e.Messages, e.Bytes, errtext.Cause(e.Err))
}

func (e *DiscardedError) Unwrap() error { return e.Err }
