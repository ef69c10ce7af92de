package conn

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
)

// framesEnding counts the frames that end in the unwritten bytes, however
// they are cut into segments and wherever the written part stopped.
func TestFramesEnding(t *testing.T) {
	for _, delim := range []string{"\x00\x00", "%EOM%"} {
		var stream []byte
		var ends []int // offset of each frame's last byte
		for i, body := range []string{`{"topic":"a"}`, `{"topic":"bb","message":1}`, `{}`, `{"topic":"c","message":"xyz"}`} {
			_ = i
			stream = append(stream, body...)
			stream = append(stream, delim...)
			ends = append(ends, len(stream)-1)
		}
		for written := 0; written <= len(stream); written++ {
			want := 0
			for _, e := range ends {
				if e >= written {
					want++
				}
			}
			rest := stream[written:]
			for _, cut := range []int{1, 2, 3, 7, len(rest) + 1} {
				var segs [][]byte
				for b := rest; len(b) > 0; {
					k := min(cut, len(b))
					segs = append(segs, b[:k])
					b = b[k:]
				}
				assert.Equal(t, want, framesEnding(segs, delim), "delim %q, written %d, segments of %d", delim, written, cut)
			}
		}
		assert.Equal(t, 0, framesEnding(nil, delim))
		assert.Equal(t, 3, framesEnding([][]byte{bytes.Repeat([]byte(`{}`+delim), 3)}, delim))
	}
}
