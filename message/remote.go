package message

import (
	"errors"
	"fmt"
)

// RemoteError is a failure reply to a request: the handler on the other
// side returned an error, or there was no handler for the topic. Message is
// the text the peer sent (its error's message); match it with errors.As.
type RemoteError struct {
	Topic   string // the request's topic
	Message string // the remote error's text, as sent
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("socketipc: request %q: remote error: %s", e.Topic, e.Message)
}

// ErrRequestInterrupted: a request's connection ended (it dropped, or its
// Server or Client was closed) before the reply arrived.
var ErrRequestInterrupted = errors.New("socketipc: connection ended before the reply")

// ErrRequestOnLoop: Request was called from a listener or a handler, where
// waiting would block the very loop that must deliver the reply.
var ErrRequestOnLoop = errors.New("socketipc: Request called on the event loop (from a listener or handler) would deadlock; call it from another goroutine")
