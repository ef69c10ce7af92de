package message

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

// DefaultMaxFrameSize is the default limit on an incoming frame, delimiter not counted.
const DefaultMaxFrameSize = 16 << 20

// readChunk is how much FrameReader asks the socket for at a time.
const readChunk = 64 << 10

// FrameReader cuts a byte stream into frames. Its buffer never holds more
// than maxFrame + len(delimiter) + one read (64 KiB): a frame that grows past
// the limit is reported as soon as that is certain, without waiting for its
// delimiter. A FrameReader is not safe for concurrent use.
//
// Read buffers come from a pool shared by every FrameReader. When its reader
// can wait for input (see NewFrameReader), and whenever Release is called, a
// FrameReader gives its buffer back and keeps only the bytes of an
// incomplete frame, so an idle stream holds no read buffer.
type FrameReader struct {
	r        io.Reader
	idle     idleReader // r, when it can wait for input without a buffer
	delim    []byte
	maxFrame int
	buf      []byte // buf[start:end] holds bytes not yet returned
	start    int
	end      int
	scanned  int // bytes after start already known to hold no delimiter start
	lastLen  int // the length of the last frame: the size a growing frame likely reaches
	frames   [][]byte
	listBox  *[][]byte // holds frames' array in the pool of frame lists
	err      error     // sticky: once set, every Next returns it
}

// idleReader is a reader that can read without waiting and wait without
// reading, so a FrameReader needs no buffer while it waits.
type idleReader interface {
	// ReadNow reads what is there into p without waiting; wouldBlock
	// (with n == 0 and no error) says nothing was.
	ReadNow(p []byte) (n int, wouldBlock bool, err error)
	// WaitReadable returns once ReadNow would find something: input, the
	// end of the stream or an error (a stale wake-up is allowed).
	WaitReadable() error
}

// NewFrameReader reads frames ended by f's delimiter from r. maxFrame <= 0
// means DefaultMaxFrameSize.
//
// If r also has the methods ReadNow(p []byte) (n int, wouldBlock bool, err
// error), which reads without waiting, and WaitReadable() error, which
// waits until there is something to read (and fails as a Read would), the
// FrameReader reads with ReadNow and, when nothing is there, gives its
// read buffer back before it calls WaitReadable.
func NewFrameReader(r io.Reader, f Framing, maxFrame int) *FrameReader {
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrameSize
	}
	idle, _ := r.(idleReader)
	return &FrameReader{r: r, idle: idle, delim: []byte(f.Delimiter()), maxFrame: maxFrame}
}

// readBuffers holds read buffers of readChunk bytes between uses.
var readBuffers = sync.Pool{New: func() any { return new([readChunk]byte) }}

// frameLists holds the frame lists of FrameReaders that gave theirs back.
var frameLists = sync.Pool{New: func() any { return new([][]byte) }}

// keepPending: a partial frame up to this long is moved out of the read
// buffer when the buffer is given back; a longer one keeps its buffer.
const keepPending = readChunk / 2

// Release gives the read buffer back to the pool, keeping only the bytes
// of an incomplete frame (in a buffer of their size, when they are few).
// The frames returned by the last Next are no longer valid. The next Next
// takes a buffer again.
func (fr *FrameReader) Release() {
	if fr.listBox != nil {
		clear(fr.frames)
		*fr.listBox = fr.frames[:0]
		frameLists.Put(fr.listBox)
		fr.frames, fr.listBox = nil, nil
	}
	pending := fr.end - fr.start
	if pending > keepPending || fr.buf == nil {
		return
	}
	var rest []byte
	if pending > 0 {
		rest = bytes.Clone(fr.buf[fr.start:fr.end])
	}
	fr.dropBuffer()
	fr.buf, fr.start, fr.end = rest, 0, pending
}

// Keep gives the caller, for good, the memory that holds the frames the
// last Next returned: they stay valid after later calls, and the
// FrameReader reads on into other memory, taking only the bytes of frames
// not yet returned along. It does so only when that memory is a buffer
// grown for large frames and mostly holds them (so the caller can keep
// large frames without copying them), and then returns the size of that
// memory, which the frames now hold; otherwise it returns 0 and changes
// nothing.
func (fr *FrameReader) Keep() int {
	size := len(fr.buf)
	if size <= readChunk || fr.start < size/2 {
		return 0
	}
	pending := fr.end - fr.start
	var nb []byte
	switch {
	case pending == 0:
	case pending <= keepPending:
		nb = readBuffers.Get().(*[readChunk]byte)[:]
	default:
		// Part of the next frame, a large one most likely: room for it
		// all, as makeRoom would grow to.
		nb = make([]byte, min(max(pending, fr.lastLen+len(fr.delim))+readChunk, fr.maxFrame+len(fr.delim)+readChunk))
	}
	copy(nb, fr.buf[fr.start:fr.end])
	fr.buf, fr.start, fr.end = nb, 0, pending
	return size
}

// dropBuffer forgets buf, putting it back in the pool if it came from there.
func (fr *FrameReader) dropBuffer() {
	if len(fr.buf) == readChunk && cap(fr.buf) == readChunk {
		readBuffers.Put((*[readChunk]byte)(fr.buf))
	}
	fr.buf = nil
}

// maxFramesPerNext caps the frames one Next returns, so what a caller holds
// per call stays bounded even for a read full of tiny frames; the rest are
// returned by the following calls, without reading.
const maxFramesPerNext = 4096

// maxEmptyReads is how many reads in a row may return no bytes and no
// error before Next gives up with io.ErrNoProgress.
const maxEmptyReads = 100

// keepBuffer: between frames, a buffer larger than this is released, so that
// one big frame does not pin its memory for the life of the connection.
const keepBuffer = 1 << 20

// Next reads until at least one frame is complete and returns the complete
// frames then buffered (up to 4,096 of them), in order. The frames (and the slice holding them) are
// valid until the next call.
//
// With frames it may also return an error, which ends the stream (every
// later call returns it again): io.EOF when the stream ended between frames,
// a *DecodeError wrapping io.ErrUnexpectedEOF when it ended inside a frame,
// or one wrapping ErrFrameTooLarge when a frame grows past the limit; any
// read error as is.
func (fr *FrameReader) Next() ([][]byte, error) {
	if fr.err != nil {
		return nil, fr.err
	}
	empty := 0
	for {
		frames, err := fr.cut()
		if err != nil || len(frames) > 0 {
			fr.err = err
			return frames, err
		}
		fr.makeRoom()
		space := len(fr.buf) - fr.end
		var n int
		if fr.idle != nil {
			var wouldBlock bool
			n, wouldBlock, err = fr.idle.ReadNow(fr.buf[fr.end:])
			if wouldBlock && err == nil && n == 0 {
				// Hold no buffer while waiting for input.
				fr.Release()
				if err = fr.idle.WaitReadable(); err == nil {
					continue
				}
			}
		} else {
			n, err = fr.r.Read(fr.buf[fr.end:])
		}
		if n < 0 || n > space {
			fr.err = errors.New("message: FrameReader: invalid Read count")
			return nil, fr.err
		}
		fr.end += n
		if err != nil {
			frames, cerr := fr.cut()
			switch {
			case cerr != nil:
				err = cerr
			case fr.end-fr.start > fr.maxFrame && errors.Is(err, io.EOF):
				err = fr.tooLarge(fr.end)
			case fr.end > fr.start && errors.Is(err, io.EOF):
				err = &DecodeError{Raw: fr.raw(fr.end), Size: fr.end - fr.start, Err: fmt.Errorf("stream ended inside a frame: %w", io.ErrUnexpectedEOF)}
			}
			fr.err = err
			return frames, err
		}
		if n == 0 {
			if empty++; empty >= maxEmptyReads {
				fr.err = io.ErrNoProgress
				return nil, fr.err
			}
		} else {
			empty = 0
		}
	}
}

// raw returns a copy of the first bytes of the pending frame (which ends
// before buf[end]), for an error.
func (fr *FrameReader) raw(end int) []byte {
	return bytes.Clone(fr.buf[fr.start:min(end, fr.start+MaxRawInError)])
}

func (fr *FrameReader) tooLarge(end int) error {
	return &DecodeError{Raw: fr.raw(end), Size: end - fr.start, Err: fmt.Errorf("%w: more than %d bytes without a delimiter", ErrFrameTooLarge, fr.maxFrame)}
}

// cut returns the complete frames in buf[start:end] and advances start past
// them. Its error says the pending frame is already longer than the limit.
func (fr *FrameReader) cut() ([][]byte, error) {
	if fr.listBox == nil {
		fr.listBox = frameLists.Get().(*[][]byte)
		fr.frames = *fr.listBox
	}
	fr.frames = fr.frames[:0]
	for len(fr.frames) < maxFramesPerNext {
		from := fr.start + fr.scanned
		i := bytes.Index(fr.buf[from:fr.end], fr.delim)
		if i < 0 {
			// The last len(delim)-1 bytes may begin a delimiter.
			fr.scanned = max(0, fr.end-fr.start-len(fr.delim)+1)
			if fr.scanned > fr.maxFrame {
				// At least maxFrame+1 bytes hold no delimiter.
				return fr.frames, fr.tooLarge(fr.end)
			}
			return fr.frames, nil
		}
		frameEnd := from + i
		if frameEnd-fr.start > fr.maxFrame {
			return fr.frames, fr.tooLarge(frameEnd)
		}
		fr.lastLen = frameEnd - fr.start
		fr.frames = append(fr.frames, fr.buf[fr.start:frameEnd:frameEnd])
		fr.start = frameEnd + len(fr.delim)
		fr.scanned = 0
	}
	return fr.frames, nil
}

// makeRoom ensures buf has free space after end, moving or growing it.
// Frames returned earlier are no longer in use here (Next's contract).
func (fr *FrameReader) makeRoom() {
	if fr.start == fr.end {
		fr.start, fr.end = 0, 0
		if len(fr.buf) > keepBuffer {
			fr.buf = nil
		}
	}
	if len(fr.buf)-fr.end >= readChunk/2 {
		return
	}
	pending := fr.end - fr.start
	need := pending + readChunk
	switch {
	case need <= len(fr.buf):
		copy(fr.buf, fr.buf[fr.start:fr.end])
	case pending <= keepPending:
		nb := readBuffers.Get().(*[readChunk]byte)[:]
		copy(nb, fr.buf[fr.start:fr.end])
		fr.dropBuffer()
		fr.buf = nb
	default:
		// pending <= maxFrame+len(delim)-1 here (cut checked it), so the
		// buffer never exceeds maxFrame + len(delim) + readChunk. Large
		// frames tend to come in runs of like sizes: when the frame before
		// was large too, growing to its size at once copies this one once
		// rather than at every doubling.
		size := max(need, 2*len(fr.buf))
		if hint := fr.lastLen + len(fr.delim) + readChunk; hint > size {
			size = hint
		}
		nb := make([]byte, min(size, fr.maxFrame+len(fr.delim)+readChunk))
		copy(nb, fr.buf[fr.start:fr.end])
		fr.dropBuffer()
		fr.buf = nb
	}
	fr.start, fr.end = 0, pending
}

// Buffered reports how many bytes of an incomplete frame are held.
func (fr *FrameReader) Buffered() int { return fr.end - fr.start }
