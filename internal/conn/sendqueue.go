package conn

import (
	"bytes"
	"sync"
)

// chunkSize is the unit in which a queue copies small frames: consecutive
// frames share a chunk, and so one segment of a writev.
const chunkSize = 64 << 10

// ownAllocation: frames at least this large are copied into their own
// buffer rather than into a chunk.
const ownAllocation = chunkSize / 4

// sendQueue is a connection's frames waiting for the socket, as the
// segments of one writev. Frames sent to one connection are copied into
// chunks the queue owns; frames shared by several connections (a
// broadcast, encoded once) are referenced, never copied per connection.
// It is guarded by its Conn's mutex.
type sendQueue struct {
	segs      [][]byte
	bytes     int
	chunk     []byte // the chunk being filled; bytes past len are free
	open      bool   // the last segment ends at len(chunk): a copy may extend it
	openStart int    // where the last segment starts in chunk, when open
	// retired holds the chunks filled before the current one whose frames
	// the writer has not yet written: once it has, they go back to chunks.
	// (A sender that outpaces its peer would otherwise copy every frame
	// into freshly allocated, zeroed, cold memory.)
	retired []*[chunkSize]byte
}

func (q *sendQueue) empty() bool { return len(q.segs) == 0 }

// copyIn appends a copy of frame.
func (q *sendQueue) copyIn(frame []byte) {
	q.bytes += len(frame)
	if len(frame) >= ownAllocation {
		q.segs = append(q.segs, bytes.Clone(frame))
		q.open = false
		return
	}
	if cap(q.chunk)-len(q.chunk) < len(frame) {
		if cap(q.chunk) == chunkSize {
			q.retired = append(q.retired, (*[chunkSize]byte)(q.chunk[:chunkSize]))
		}
		q.chunk = chunks.Get().(*[chunkSize]byte)[:0]
		q.open = false
	}
	start := len(q.chunk)
	q.chunk = append(q.chunk, frame...)
	if q.open {
		q.segs[len(q.segs)-1] = q.chunk[q.openStart:len(q.chunk):len(q.chunk)]
		return
	}
	q.segs = append(q.segs, q.chunk[start:len(q.chunk):len(q.chunk)])
	q.open, q.openStart = true, start
}

// share appends seg without copying; seg must never change. A seg that
// directly follows the last one in the same array extends it.
func (q *sendQueue) share(seg []byte) {
	q.bytes += len(seg)
	if n := len(q.segs); n > 0 && !q.open && len(seg) > 0 {
		last := q.segs[n-1]
		if cap(last) > len(last) && &last[:len(last)+1][len(last)] == &seg[0] && cap(last)-len(last) >= len(seg) {
			q.segs[n-1] = last[:len(last)+len(seg)]
			return
		}
	}
	q.segs = append(q.segs, seg)
	q.open = false
}

// pushFront puts back the unwritten rest of a frame, ahead of the others.
func (q *sendQueue) pushFront(seg []byte) {
	q.bytes += len(seg)
	q.segs = append(q.segs, nil)
	copy(q.segs[1:], q.segs)
	q.segs[0] = seg
	if len(q.segs) == 1 {
		q.open = false
	}
}

// take hands every segment to the writer and starts afresh with spare.
// The chunk stays: later copies fill its free part, which the writer's
// segments never cover. The chunks retired so far hold no frame outside
// segs (earlier takes were written before this one): once segs are
// written, the writer gives them back with recycle.
func (q *sendQueue) take(spare [][]byte, spareRetired []*[chunkSize]byte) (segs [][]byte, n int, retired []*[chunkSize]byte) {
	segs, n, retired = q.segs, q.bytes, q.retired
	q.segs, q.bytes, q.open, q.retired = spare[:0], 0, false, spareRetired[:0]
	return segs, n, retired
}

// recycle gives back chunks whose frames are all written, and returns the
// emptied slice for the next take.
func recycle(retired []*[chunkSize]byte) []*[chunkSize]byte {
	for i, c := range retired {
		chunks.Put(c)
		retired[i] = nil
	}
	return retired[:0]
}

// chunks holds chunks no queue is using.
var chunks = sync.Pool{New: func() any { return new([chunkSize]byte) }}

// releaseChunk gives the chunk back once nothing refers to it: the queue
// is empty and no write is under way (the caller knows), so an idle
// connection holds no chunk.
func (q *sendQueue) releaseChunk() {
	if cap(q.chunk) == chunkSize {
		chunks.Put((*[chunkSize]byte)(q.chunk[:chunkSize]))
	}
	q.chunk, q.open = nil, false
}

// drop forgets everything queued.
func (q *sendQueue) drop() { *q = sendQueue{} }

// SharedFrames stores frames that several connections send, such as a
// server's broadcasts, back to back in large arrays, so each connection's
// queue references them (and consecutive ones as one segment) instead of
// copying them.
type SharedFrames struct {
	mu  sync.Mutex
	buf []byte
}

// Store copies frame into the shared arrays and returns the copy, which
// must never be modified.
func (s *SharedFrames) Store(frame []byte) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cap(s.buf)-len(s.buf) < len(frame) {
		s.buf = make([]byte, 0, max(chunkSize, len(frame)))
	}
	start := len(s.buf)
	s.buf = append(s.buf, frame...)
	return s.buf[start:len(s.buf)]
}

// framesEnding counts the frames whose end (the last byte of their
// delimiter) lies in segs, bytes that were queued and not written: the
// messages they hold are lost. segs may begin part-way into a frame, even
// into its delimiter, when the bytes before were written: such a frame is
// lost too, and counted. Frames never contain their delimiter's bytes (JSON
// escapes NUL; a frame is never empty), so matching from a frame boundary
// finds each end exactly.
func framesEnding(segs [][]byte, delim string) int {
	d := []byte(delim)
	var headBuf [8]byte
	head := headBuf[:0]
	for _, seg := range segs {
		need := len(d) - len(head)
		if need == 0 {
			break
		}
		head = append(head, seg[:min(need, len(seg))]...)
	}
	n, skip := 0, 0
	if !bytes.HasPrefix(head, d) {
		for k := 1; k < len(d); k++ {
			if bytes.HasPrefix(head, d[k:]) { // the cut end of a delimiter
				n, skip = 1, len(d)-k
				break
			}
		}
	}
	matched := 0 // bytes of a delimiter at the end of the previous segment
	for _, seg := range segs {
		if skip >= len(seg) {
			skip -= len(seg)
			continue
		}
		seg, skip = seg[skip:], 0
		if matched > 0 {
			rest := d[matched:]
			switch {
			case bytes.HasPrefix(seg, rest):
				n++
				seg = seg[len(rest):]
				matched = 0
			case len(seg) < len(rest) && bytes.Equal(seg, rest[:len(seg)]):
				matched += len(seg)
				continue
			default:
				matched = 0
			}
		}
		n += bytes.Count(seg, d)
		if !bytes.HasSuffix(seg, d) {
			for k := len(d) - 1; k > 0; k-- {
				if bytes.HasSuffix(seg, d[:k]) {
					matched = k
					break
				}
			}
		}
	}
	return n
}
