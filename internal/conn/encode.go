package conn

import (
	"sync"

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
