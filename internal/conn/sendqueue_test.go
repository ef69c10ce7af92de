package conn

import (
	"bytes"
	"testing"
)

func joined(segs [][]byte) []byte { return bytes.Join(segs, nil) }

func TestSendQueueCopiesCoalesce(t *testing.T) {
	var q sendQueue
	q.copyIn([]byte("ab"))
	q.copyIn([]byte("cd"))
	q.copyIn([]byte("ef"))
	if len(q.segs) != 1 || string(joined(q.segs)) != "abcdef" || q.bytes != 6 {
		t.Fatalf("consecutive copies should share one segment: %q (%d segs, %d bytes)", joined(q.segs), len(q.segs), q.bytes)
	}
	segs, n, _ := q.take(nil, nil)
	if n != 6 || string(joined(segs)) != "abcdef" || !q.empty() {
		t.Fatalf("take: %q %d, empty after: %v", joined(segs), n, q.empty())
	}
	// Copies after a take fill the same chunk without touching what was taken.
	q.copyIn([]byte("gh"))
	if string(joined(segs)) != "abcdef" || string(joined(q.segs)) != "gh" {
		t.Fatalf("after take: taken %q, queued %q", joined(segs), joined(q.segs))
	}
}

func TestSendQueueSharesAdjacentFrames(t *testing.T) {
	var s SharedFrames
	a, b := s.Store([]byte("one")), s.Store([]byte("two"))
	var q sendQueue
	q.share(a)
	q.share(b)
	if len(q.segs) != 1 || string(joined(q.segs)) != "onetwo" {
		t.Fatalf("adjacent shared frames should merge: %q in %d segs", joined(q.segs), len(q.segs))
	}
	q.copyIn([]byte("x"))
	q.share(s.Store([]byte("three")))
	if string(joined(q.segs)) != "onetwoxthree" || q.bytes != 12 {
		t.Fatalf("mixed: %q, %d bytes", joined(q.segs), q.bytes)
	}
}

func TestSendQueueBigFrameAndPushFront(t *testing.T) {
	var q sendQueue
	big := bytes.Repeat([]byte("z"), ownAllocation)
	q.copyIn([]byte("a"))
	q.copyIn(big)
	q.copyIn([]byte("b"))
	q.pushFront([]byte("rest-"))
	want := "rest-a" + string(big) + "b"
	if string(joined(q.segs)) != want || q.bytes != len(want) {
		t.Fatalf("got %d bytes in %d segs, want %d", q.bytes, len(q.segs), len(want))
	}
	big[0] = 'Q' // the queue holds its own copy
	if joined(q.segs)[6] != 'z' {
		t.Fatal("a big frame must be copied, not referenced")
	}
}

// A chunk is retired when the queue moves on to the next one, handed to
// the writer with the take that holds its last frames, and not before.
func TestSendQueueRetiresFilledChunks(t *testing.T) {
	var q sendQueue
	frame := bytes.Repeat([]byte("f"), 1000)
	perChunk := chunkSize / len(frame)
	for range perChunk {
		q.copyIn(frame)
	}
	if len(q.retired) != 0 {
		t.Fatalf("%d chunks retired before the first was full", len(q.retired))
	}
	first := &q.chunk[0]
	segs, n, retired := q.take(nil, nil)
	if len(retired) != 0 || n != perChunk*len(frame) {
		t.Fatalf("first take: %d retired, %d bytes", len(retired), n)
	}
	clear(segs)
	q.copyIn(frame) // does not fit: the first chunk retires
	q.copyIn(frame)
	segs, n, retired = q.take(nil, retired)
	if len(retired) != 1 || &retired[0][0] != first {
		t.Fatalf("second take: %d retired, want the first chunk", len(retired))
	}
	if n != 2*len(frame) || !bytes.Equal(joined(segs), bytes.Repeat(frame, 2)) {
		t.Fatalf("second take: %d bytes", n)
	}
	if retired = recycle(retired); len(retired) != 0 || len(q.retired) != 0 {
		t.Fatalf("after recycle: %d, queue still holds %d", len(retired), len(q.retired))
	}
}
