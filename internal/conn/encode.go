package conn

import (
	"encoding/binary"
	"encoding/json"
	"sync"
	"unsafe"

	"github.com/socketipc/socketipc/message"
)

var framePool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// maxPooledFrame keeps one huge message from pinning its buffer in the pool.
const maxPooledFrame = 64 << 10

// EncodeFrame encodes one frame into a pooled buffer and passes it to use,
// which must not keep it. An encode failure is a *message.EncodeError.
func EncodeFrame(t message.Transcoder, f message.Framing, topic string, msg any, use func(frame []byte) error) error {
	bp := framePool.Get().(*[]byte)
	frame, err := message.AppendFrame((*bp)[:0], t, f, topic, msg)
	if err == nil {
		err = use(frame)
	}
	if cap(frame) <= maxPooledFrame {
		*bp = frame[:0]
		framePool.Put(bp)
	}
	return err
}

// EncodeSend encodes one frame and queues it on c (errors as for
// EncodeFrame and Enqueue). A frame too large for the pool is encoded into
// a buffer of its own, sized at once from the payload when that is a
// string or raw JSON, which the queue then keeps as it is: a large
// message is copied once, by encoding it, rather than again into the
// queue, and its buffer is not grown step by step.
func EncodeSend(t message.Transcoder, f message.Framing, topic string, msg any, c *Conn) error {
	if s, ok := msg.(string); ok && len(s) > maxPooledFrame && t == message.JSON && f.Delimiter() == message.NulFraming.Delimiter() && plainASCII(s) {
		return sendString(t, f, topic, s, c)
	}
	var bp *[]byte
	var buf []byte
	if n := payloadLen(msg); n > maxPooledFrame {
		buf = make([]byte, 0, n+len(topic)+envelopeRoom)
	} else {
		bp = framePool.Get().(*[]byte)
		buf = (*bp)[:0]
	}
	frame, err := message.AppendFrame(buf, t, f, topic, msg)
	if cap(frame) > maxPooledFrame {
		if bp != nil {
			framePool.Put(bp) // still its small buffer: encoding outgrew it
		}
		if err != nil {
			return err
		}
		// Nobody else refers to frame, and nothing will change it.
		return c.EnqueueShared(frame, Now())
	}
	if err == nil {
		err = c.Enqueue(frame)
	}
	if bp != nil {
		*bp = frame[:0]
		framePool.Put(bp)
	}
	return err
}

// envelopeRoom is what a frame holds around its topic and payload: the
// envelope's JSON and a delimiter, with room to spare.
const envelopeRoom = 64

// payloadLen is the encoded size a payload will have, about, when that is
// cheap to know; 0 otherwise.
func payloadLen(msg any) int {
	switch v := msg.(type) {
	case string:
		return len(v) + 2
	case json.RawMessage:
		return len(v)
	}
	return 0
}

// sendString queues a large string payload that JSON writes as it is
// (plain printable ASCII, no quote or backslash) without copying it: the
// queue holds the frame's envelope around a reference to the string's own
// bytes, which Go never changes. A large message sent as a string then
// costs no copy and no memory beyond the caller's string until written.
func sendString(t message.Transcoder, f message.Framing, topic string, s string, c *Conn) error {
	bp := framePool.Get().(*[]byte)
	defer framePool.Put(bp)
	// The frame of an empty string ends in `""}` and the delimiter: the
	// string goes between the two quotes.
	frame, err := message.AppendFrame((*bp)[:0], t, f, topic, "")
	if err != nil {
		return err
	}
	*bp = frame[:0]
	cut := len(frame) - len(f.Delimiter()) - len(`"}`)
	return c.enqueueAround(frame[:cut], unsafe.Slice(unsafe.StringData(s), len(s)), frame[cut:])
}

// plainASCII reports whether s is printable ASCII without '"' or '\\',
// eight bytes at a time (as message's JSON string scan does).
func plainASCII(s string) bool {
	const lsb, msb = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))
		if ((x-lsb*0x20)|((x^lsb*'"')-lsb)|((x^lsb*'\\')-lsb)|x)&msb != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
