// Package errtext keeps socketipc's error texts from repeating themselves:
// a text says "socketipc: " once, at its start, however many errors of the
// library wrap one another (not "socketipc: listen: socketipc: server
// closed"). Sentinel errors keep the prefix, since they may be seen alone;
// whoever wraps an error writes its cause with Cause, or wraps with Wrap.
package errtext

import "strings"

// Prefix starts every error text of the library.
const Prefix = "socketipc: "

// Cause is err's text as the cause inside another error of the library:
// without the Prefix it starts with, if any.
func Cause(err error) string {
	if err == nil {
		return "<nil>"
	}
	return strings.TrimPrefix(err.Error(), Prefix)
}

// Wrap returns an error whose text is Prefix, context, ": " and Cause(err),
// and which unwraps to err: Wrap("listen", ErrServerClosed) reads
// "socketipc: listen: server closed". A nil err gives nil.
func Wrap(context string, err error) error {
	if err == nil {
		return nil
	}
	return &wrapped{context: context, err: err}
}

type wrapped struct {
	context string
	err     error
}

func (w *wrapped) Error() string { return Prefix + w.context + ": " + Cause(w.err) }
func (w *wrapped) Unwrap() error { return w.err }
