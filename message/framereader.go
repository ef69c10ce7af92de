package message

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxFrameSize is the default limit on an incoming frame, delimiter not counted.
const DefaultMaxFrameSize = 16 << 20

// readChunk is how much FrameReader asks the socket for at a time.
const readChunk = 64 << 10

// FrameReader cuts a byte stream into frames. Its memory is bounded by the
// maximum frame size plus one read.
type FrameReader struct {
	r        io.Reader
	delim    []byte
	maxFrame int
	buf      []byte // buf[start:end] holds bytes not yet returned
	start    int
	end      int
	scanned  int // bytes after start already known to hold no delimiter
	frames   [][]byte
}

// NewFrameReader reads frames ended by f's delimiter from r. maxFrame <= 0
// means DefaultMaxFrameSize.
func NewFrameReader(r io.Reader, f Framing, maxFrame int) *FrameReader {
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrameSize
	}
	return &FrameReader{r: r, delim: []byte(f.Delimiter()), maxFrame: maxFrame}
}

// Next reads until at least one frame is complete and returns every complete
// frame then buffered, in order. The frames are valid until the next call.
//
// With frames it may also return an error, which ends the stream: io.EOF
// when the stream ended between frames, a *DecodeError wrapping
// io.ErrUnexpectedEOF when it ended inside a frame, or one wrapping
// ErrFrameTooLarge when a frame grows past the limit; any read error as is.
func (fr *FrameReader) Next() ([][]byte, error) {
	for {
		if frames := fr.cut(); len(frames) > 0 {
			return frames, nil
		}
		if pending := fr.end - fr.start; pending > fr.maxFrame+len(fr.delim)-1 {
			return nil, fr.tooLarge()
		}
		fr.makeRoom()
		n, err := fr.r.Read(fr.buf[fr.end:])
		fr.end += n
		if err != nil {
			frames := fr.cut()
			if pending := fr.end - fr.start; pending > fr.maxFrame+len(fr.delim)-1 {
				return frames, fr.tooLarge()
			}
			if errors.Is(err, io.EOF) && fr.end > fr.start {
				raw := bytes.Clone(fr.buf[fr.start:min(fr.end, fr.start+MaxRawInError)])
				fr.start = fr.end
				return frames, &DecodeError{Raw: raw, Err: fmt.Errorf("stream ended inside a frame: %w", io.ErrUnexpectedEOF)}
			}
			return frames, err
		}
	}
}

func (fr *FrameReader) tooLarge() error {
	raw := bytes.Clone(fr.buf[fr.start:min(fr.end, fr.start+MaxRawInError)])
	return &DecodeError{Raw: raw, Err: fmt.Errorf("%w: more than %d bytes without a delimiter", ErrFrameTooLarge, fr.maxFrame)}
}

// cut returns the complete frames in buf[start:end] and advances start.
func (fr *FrameReader) cut() [][]byte {
	fr.frames = fr.frames[:0]
	for {
		from := fr.start + fr.scanned
		i := bytes.Index(fr.buf[from:fr.end], fr.delim)
		if i < 0 {
			// The last len(delim)-1 bytes may begin a delimiter.
			fr.scanned = max(0, fr.end-fr.start-len(fr.delim)+1)
			return fr.frames
		}
		frameEnd := from + i
		if frameEnd-fr.start > fr.maxFrame {
			// Let Next report it: leave start where it is and the rest unscanned.
			fr.scanned = fr.end - fr.start
			return fr.frames
		}
		fr.frames = append(fr.frames, fr.buf[fr.start:frameEnd:frameEnd])
		fr.start = frameEnd + len(fr.delim)
		fr.scanned = 0
	}
}

// makeRoom ensures buf has free space after end, moving or growing it.
// Frames returned earlier are no longer in use here (Next's contract).
func (fr *FrameReader) makeRoom() {
	if fr.start == fr.end {
		fr.start, fr.end = 0, 0
	}
	if len(fr.buf)-fr.end >= readChunk/2 {
		return
	}
	pending := fr.end - fr.start
	need := pending + readChunk
	if need <= len(fr.buf) {
		copy(fr.buf, fr.buf[fr.start:fr.end])
	} else {
		nb := make([]byte, min(max(need, 2*len(fr.buf)), fr.maxFrame+len(fr.delim)+readChunk))
		copy(nb, fr.buf[fr.start:fr.end])
		fr.buf = nb
	}
	fr.start, fr.end = 0, pending
}
