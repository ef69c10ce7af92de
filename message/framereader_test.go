package message

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll reads every frame from fr until an error, copying them.
func readAll(t *testing.T, fr *FrameReader) ([]string, error) {
	t.Helper()
	var out []string
	for range 1 << 20 {
		frames, err := fr.Next()
		for _, f := range frames {
			out = append(out, string(f))
		}
		if err != nil {
			return out, err
		}
		if len(frames) == 0 {
			t.Fatal("Next returned neither frames nor an error")
		}
	}
	t.Fatal("Next never ended")
	return nil, nil
}

// pieces returns a reader that yields each of parts in its own Read.
type pieces struct{ parts [][]byte }

func (p *pieces) Read(b []byte) (int, error) {
	for len(p.parts) > 0 && len(p.parts[0]) == 0 {
		p.parts = p.parts[1:]
	}
	if len(p.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(b, p.parts[0])
	p.parts[0] = p.parts[0][n:]
	return n, nil
}

func TestFrameReaderSplitAtEveryOffset(t *testing.T) {
	for _, framing := range []Framing{NulFraming, LegacyFraming} {
		d := framing.Delimiter()
		want := []string{`{"topic":"a","message":1}`, ``, `{"topic":"bb","message":"x y"}`, `z`}
		stream := []byte(strings.Join(want, d) + d)
		for i := 0; i <= len(stream); i++ {
			for j := i; j <= len(stream); j++ {
				fr := NewFrameReader(&pieces{[][]byte{stream[:i], stream[i:j], stream[j:]}}, framing, 0)
				got, err := readAll(t, fr)
				if err != io.EOF {
					t.Fatalf("%v split %d,%d: %v", framing, i, j, err)
				}
				if strings.Join(got, "|") != strings.Join(want, "|") {
					t.Fatalf("%v split %d,%d: %q", framing, i, j, got)
				}
			}
		}
	}
}

func TestFrameReaderManyFramesOneRead(t *testing.T) {
	var stream []byte
	var want []string
	for i := range 5000 {
		f := fmt.Sprintf(`{"topic":"t","message":%d}`, i)
		want = append(want, f)
		stream = append(stream, f...)
		stream = append(stream, 0, 0)
	}
	fr := NewFrameReader(bytes.NewReader(stream), NulFraming, 0)
	frames, err := fr.Next()
	if err != nil || len(frames) < 100 {
		t.Fatalf("first Next: %d frames, %v", len(frames), err)
	}
	got := []string{}
	for _, f := range frames {
		got = append(got, string(f))
	}
	rest, err := readAll(t, fr)
	got = append(got, rest...)
	if err != io.EOF || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got %d frames, %v", len(got), err)
	}
}

func TestFrameReaderTripleNul(t *testing.T) {
	// As Node's split("\0\0"): the first two NULs end the frame.
	fr := NewFrameReader(strings.NewReader("a\x00\x00\x00b\x00\x00"), NulFraming, 0)
	got, err := readAll(t, fr)
	if err != io.EOF || len(got) != 2 || got[0] != "a" || got[1] != "\x00b" {
		t.Fatalf("%q %v", got, err)
	}
}

func TestFrameReaderEOF(t *testing.T) {
	for _, tc := range []struct {
		stream string
		frames int
		err    error
	}{
		{"", 0, io.EOF},
		{"a\x00\x00", 1, io.EOF},
		{"a\x00\x00b", 1, io.ErrUnexpectedEOF},
		{"a\x00\x00b\x00", 1, io.ErrUnexpectedEOF},
		{"\x00", 0, io.ErrUnexpectedEOF},
	} {
		for _, r := range []io.Reader{strings.NewReader(tc.stream), iotest.DataErrReader(strings.NewReader(tc.stream)), iotest.OneByteReader(strings.NewReader(tc.stream))} {
			got, err := readAll(t, NewFrameReader(r, NulFraming, 0))
			if len(got) != tc.frames || !errors.Is(err, tc.err) {
				t.Errorf("%q: %q, %v", tc.stream, got, err)
			}
			if tc.err == io.ErrUnexpectedEOF {
				var de *DecodeError
				if !errors.As(err, &de) || !bytes.HasSuffix([]byte(tc.stream), de.Raw) || len(de.Raw) == 0 {
					t.Errorf("%q: %#v", tc.stream, err)
				}
			} else if err != io.EOF {
				t.Errorf("%q: clean end should be io.EOF itself, got %#v", tc.stream, err)
			}
		}
	}
}

func TestFrameReaderReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("a\x00\x00b"), iotest.ErrReader(boom))
	fr := NewFrameReader(r, NulFraming, 0)
	got, err := readAll(t, fr)
	if len(got) != 1 || err != boom {
		t.Fatalf("%q %v", got, err)
	}
	if _, again := fr.Next(); again != boom {
		t.Fatalf("error not sticky: %v", again)
	}
}

type zeroReader struct{ n int }

func (z *zeroReader) Read([]byte) (int, error) { z.n++; return 0, nil }

func TestFrameReaderNoProgress(t *testing.T) {
	z := &zeroReader{}
	_, err := NewFrameReader(z, NulFraming, 0).Next()
	if err != io.ErrNoProgress || z.n != maxEmptyReads {
		t.Fatalf("%v after %d reads", err, z.n)
	}
}

func TestFrameReaderMaxFrame(t *testing.T) {
	const max = 100
	exact := strings.Repeat("x", max)
	for _, framing := range []Framing{NulFraming, LegacyFraming} {
		d := framing.Delimiter()
		// A frame of exactly max bytes is fine, even read one byte at a time.
		got, err := readAll(t, NewFrameReader(iotest.OneByteReader(strings.NewReader(exact+d+"y"+d)), framing, max))
		if err != io.EOF || len(got) != 2 || got[0] != exact {
			t.Fatalf("%v: exact max: %d frames, %v", framing, len(got), err)
		}
		// One more byte is too large, with or without its delimiter, and
		// frames before it are still delivered.
		for _, tail := range []string{d, "", d + "more" + d} {
			stream := "ok" + d + exact + "z" + tail
			for _, r := range []io.Reader{strings.NewReader(stream), iotest.OneByteReader(strings.NewReader(stream))} {
				got, err := readAll(t, NewFrameReader(r, framing, max))
				if len(got) != 1 || got[0] != "ok" || !errors.Is(err, ErrFrameTooLarge) {
					t.Fatalf("%v %q: %q, %v", framing, tail, got, err)
				}
				var de *DecodeError
				if !errors.As(err, &de) || !strings.HasPrefix(exact+"z"+tail, string(de.Raw)) || len(de.Raw) < max+1 {
					t.Fatalf("%v: %#v", framing, err)
				}
			}
		}
	}
}

// endless is a reader that never sends a delimiter.
type endless struct{ read int }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	e.read += len(p)
	return len(p), nil
}

func TestFrameReaderEndlessFrameIsBounded(t *testing.T) {
	for _, max := range []int{1, 1000, readChunk, 3*readChunk + 5, DefaultMaxFrameSize} {
		e := &endless{}
		fr := NewFrameReader(e, NulFraming, max)
		frames, err := fr.Next()
		if len(frames) != 0 || !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("max %d: %d frames, %v", max, len(frames), err)
		}
		bound := max + len(NulFraming.Delimiter()) + readChunk
		if e.read > bound || len(fr.buf) > bound {
			t.Fatalf("max %d: read %d bytes into a %d-byte buffer; bound %d", max, e.read, len(fr.buf), bound)
		}
		var de *DecodeError
		if !errors.As(err, &de) || len(de.Raw) != min(max+1, MaxRawInError) && len(de.Raw) != MaxRawInError {
			t.Fatalf("max %d: raw of %d bytes", max, len(de.Raw))
		}
		if len(de.Raw) > MaxRawInError {
			t.Fatalf("raw of %d bytes", len(de.Raw))
		}
		if !strings.Contains(err.Error(), "frame too large") {
			t.Fatalf("message %q", err)
		}
	}
}

func TestFrameReaderReleasesBigBuffer(t *testing.T) {
	big := strings.Repeat("b", 3<<20)
	fr := NewFrameReader(strings.NewReader(big+"\x00\x00small\x00\x00"), NulFraming, 0)
	frames, err := fr.Next()
	if err != nil || len(frames) != 2 || len(frames[0]) != len(big) {
		t.Fatalf("%d frames, %v", len(frames), err)
	}
	if _, err := fr.Next(); err != io.EOF {
		t.Fatal(err)
	}
	if len(fr.buf) > keepBuffer {
		t.Fatalf("buffer of %d bytes kept", len(fr.buf))
	}
}

func TestFrameReaderBuffered(t *testing.T) {
	fr := NewFrameReader(&pieces{[][]byte{[]byte("a\x00\x00bc")}}, NulFraming, 0)
	if frames, err := fr.Next(); err != nil || len(frames) != 1 || fr.Buffered() != 2 {
		t.Fatalf("%q %v %d", frames, err, fr.Buffered())
	}
}

// waitingPieces is pieces with ReadNow and WaitReadable: each part is
// there only after a wait, and each wait records what the FrameReader
// holds meanwhile.
type waitingPieces struct {
	pieces
	fr    *FrameReader
	ready bool
	held  []int // len(fr.buf) at each wait
}

func (w *waitingPieces) ReadNow(p []byte) (int, bool, error) {
	if !w.ready {
		return 0, true, nil
	}
	w.ready = false
	n, err := w.Read(p)
	return n, false, err
}

func (w *waitingPieces) WaitReadable() error {
	w.held = append(w.held, len(w.fr.buf))
	w.ready = true
	return nil
}

// A FrameReader whose reader can wait holds, while it waits, no read
// buffer: only the bytes of an incomplete frame, in a slice of their size.
// Release does the same between reads.
func TestFrameReaderReleasesItsBufferWhileWaiting(t *testing.T) {
	w := &waitingPieces{pieces: pieces{[][]byte{[]byte("ab\x00\x00cd"), []byte("e\x00\x00"), []byte("fgh")}}}
	w.fr = NewFrameReader(w, NulFraming, 0)
	got, err := readAll(t, w.fr)
	if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) || strings.Join(got, "|") != "ab|cde" {
		t.Fatalf("%q, %v", got, err)
	}
	// Waits: before the first read (nothing), after "ab..cd" (holding "cd"),
	// after "e.." (nothing), after "fgh" (holding it).
	if want := []int{0, 2, 0, 3}; fmt.Sprint(w.held) != fmt.Sprint(want) {
		t.Errorf("held %v while waiting, want %v", w.held, want)
	}

	fr := NewFrameReader(strings.NewReader("xy\x00\x00z"), NulFraming, 0)
	if frames, err := fr.Next(); err != nil || len(frames) != 1 {
		t.Fatalf("%q %v", frames, err)
	}
	fr.Release()
	if len(fr.buf) != 1 || fr.Buffered() != 1 {
		t.Errorf("after Release: buffer of %d bytes, %d buffered", len(fr.buf), fr.Buffered())
	}
	if _, err := fr.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("%v", err)
	}
}

// Keep hands over the buffer of large frames: they stay intact while the
// FrameReader reads on, and what it held of the next frame goes along. A
// pooled buffer of small frames is never handed over.
func TestFrameReaderKeep(t *testing.T) {
	big := func(c byte) string { return strings.Repeat(string(c), 300<<10) }
	stream := "s1\x00\x00" + big('a') + "\x00\x00" + big('b') + "\x00\x00" + big('c') + "\x00\x00"
	fr := NewFrameReader(&pieces{[][]byte{[]byte(stream[:200<<10]), []byte(stream[200<<10:])}}, NulFraming, 0)
	frames, err := fr.Next()
	if err != nil || len(frames) != 1 || string(frames[0]) != "s1" {
		t.Fatalf("%d frames, %v", len(frames), err)
	}
	if n := fr.Keep(); n != 0 {
		t.Fatalf("Keep of a small frame's pooled buffer: %d", n)
	}
	var kept [][]byte
	for len(kept) < 3 {
		frames, err := fr.Next()
		if err != nil {
			t.Fatal(err)
		}
		n := fr.Keep()
		if n == 0 {
			t.Fatalf("large frames not kept")
		}
		total := 0
		for _, f := range frames {
			total += len(f)
		}
		if n < total {
			t.Fatalf("Keep says %d bytes for %d bytes of frames", n, total)
		}
		kept = append(kept, frames...)
	}
	if _, err := fr.Next(); err != io.EOF {
		t.Fatal(err)
	}
	for i, f := range kept {
		if string(f) != big(byte('a'+i)) {
			t.Errorf("frame %d changed after Keep", i)
		}
	}
}
