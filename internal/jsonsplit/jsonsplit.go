// Package jsonsplit hands a connection's reader message.JSON's split that
// decodes the payload on the way, which is not part of the public API:
// package message sets Split when it is initialized.
package jsonsplit

import "reflect"

// Split splits frame exactly as message.JSON.SplitEnvelope does (the same
// topic, payload and error), and when typeOf(topic) gives a type, decodes
// the payload into it in the same pass instead of only validating it. When
// decoded is true, v is what message.JSON.Unmarshal gives for the payload
// into a new value of that type (the value itself for the empty interface,
// else a pointer to it) with no error, and held bounds what v holds on the
// heap (0 if the decoder kept no count: the caller measures). typeOf is
// called at most once, with a view of frame, and only for a topic without
// escapes that comes before the payload.
var Split func(frame []byte, typeOf func(topic []byte) reflect.Type) (topic, payload []byte, v any, held int64, decoded bool, err error)
