package message

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
)

// checkAgainstEncodingJSON checks SplitEnvelope's answer for frame against
// encoding/json's: the frame decoded into map[string]json.RawMessage (exact
// member names, the last of a repeated name wins, as JSON.parse does).
func checkAgainstEncodingJSON(t *testing.T, frame []byte) {
	t.Helper()
	topic, payload, err := JSON.SplitEnvelope(frame)

	if !json.Valid(frame) {
		if err != ErrNotJSON {
			t.Fatalf("%q: json.Valid says invalid, SplitEnvelope says %q, %q, %v", frame, topic, payload, err)
		}
		return
	}
	if trimmed := bytes.TrimLeft(frame, " \t\r\n"); trimmed[0] != '{' {
		if err != ErrNotObject {
			t.Fatalf("%q: not an object, SplitEnvelope says %q, %q, %v", frame, topic, payload, err)
		}
		return
	}
	var members map[string]json.RawMessage
	if uerr := json.Unmarshal(frame, &members); uerr != nil {
		t.Fatalf("%q: valid object but json.Unmarshal fails: %v", frame, uerr)
	}
	rawTopic, ok := members["topic"]
	var wantTopic string
	if ok && rawTopic[0] == '"' {
		if uerr := json.Unmarshal(rawTopic, &wantTopic); uerr != nil {
			t.Fatalf("%q: topic %s: %v", frame, rawTopic, uerr)
		}
	} else {
		if err != ErrNoTopic {
			t.Fatalf("%q: no string topic, SplitEnvelope says %q, %q, %v", frame, topic, payload, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("%q: encoding/json accepts it (topic %q), SplitEnvelope says %v", frame, wantTopic, err)
	}
	if string(topic) != wantTopic {
		t.Fatalf("%q: topic %q, encoding/json says %q", frame, topic, wantTopic)
	}
	wantPayload, ok := members["message"]
	if !ok {
		wantPayload = nil
	}
	if !bytes.Equal(payload, wantPayload) || (payload == nil) != (wantPayload == nil) {
		t.Fatalf("%q: payload %q, encoding/json says %q", frame, payload, wantPayload)
	}
}

func FuzzSplitEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"topic":"hello","message":"world"}`,
		`{"message":{"a":[1,2,{"b":null}]},"topic":"t","x":true}`,
		`{"topic":"a","topic":"b"}`,
		`{"topic":"\u00e9\ud83d\ude00\ud800"}`,
		"{\"topic\":\"\xff\"}",
		`{"\u0074opic":"x"}`,
		`[1,2]`, `"s"`, `{`, ``, `{"topic":1}`, `{"topic":"x","message":-0.5e+10}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		checkAgainstEncodingJSON(t, frame)
	})
}

// chunkedReader returns its data in pieces whose sizes come from sizes.
type chunkedReader struct {
	data  []byte
	sizes []byte
	n     int
}

func (r *chunkedReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	size := 1
	if len(r.sizes) > 0 {
		size = int(r.sizes[r.n%len(r.sizes)]) + 1
		if size > 200 {
			size *= 1000 // now and then a big read
		}
		r.n++
	}
	size = min(size, len(p), len(r.data))
	copy(p, r.data[:size])
	r.data = r.data[size:]
	return size, nil
}

// referenceFrames is what a FrameReader must give for stream: the frames
// up to the first one longer than max, and the error that ends them.
func referenceFrames(stream []byte, delim string, maxFrame int) ([][]byte, error) {
	var frames [][]byte
	for {
		i := bytes.Index(stream, []byte(delim))
		if i < 0 {
			switch {
			case len(stream) > maxFrame:
				return frames, ErrFrameTooLarge
			case len(stream) > 0:
				return frames, io.ErrUnexpectedEOF
			}
			return frames, io.EOF
		}
		if i > maxFrame {
			return frames, ErrFrameTooLarge
		}
		frames = append(frames, stream[:i])
		stream = stream[i+len(delim):]
	}
}

func FuzzFrameReader(f *testing.F) {
	f.Add([]byte("{\"topic\":\"a\",\"message\":1}\x00\x00{\"topic\":\"b\"}\x00\x00"), []byte{0, 3, 7}, uint16(0), false)
	f.Add([]byte("abc\x00\x00\x00def\x00\x00\x00"), []byte{}, uint16(3), false)
	f.Add([]byte("one%EOM%two%EOM%%EOM%thr"), []byte{1, 2}, uint16(4), true)
	f.Add([]byte("no delimiter at all, ever, ever"), []byte{255}, uint16(5), false)
	f.Add([]byte("\x00\x00\x00\x00\x00"), []byte{0}, uint16(1), false)
	f.Fuzz(func(t *testing.T, stream, sizes []byte, maxFrame uint16, legacy bool) {
		framing := NulFraming
		if legacy {
			framing = LegacyFraming
		}
		max := int(maxFrame)%4096 + 1
		wantFrames, wantErr := referenceFrames(stream, framing.Delimiter(), max)

		fr := NewFrameReader(&chunkedReader{data: stream, sizes: sizes}, framing, max)
		var got [][]byte
		var err error
		for range len(stream) + 2 {
			var frames [][]byte
			frames, err = fr.Next()
			for _, fm := range frames {
				if len(fm) > max {
					t.Fatalf("frame of %d bytes, max %d", len(fm), max)
				}
				got = append(got, bytes.Clone(fm))
			}
			if bound := max + len(framing.Delimiter()) + readChunk; len(fr.buf) > bound {
				t.Fatalf("buffer of %d bytes, bound %d", len(fr.buf), bound)
			}
			if err != nil {
				break
			}
		}
		if len(got) != len(wantFrames) {
			t.Fatalf("%d frames, want %d", len(got), len(wantFrames))
		}
		for i := range got {
			if !bytes.Equal(got[i], wantFrames[i]) {
				t.Fatalf("frame %d: %q, want %q", i, got[i], wantFrames[i])
			}
		}
		if !errors.Is(err, wantErr) {
			t.Fatalf("error %v, want %v", err, wantErr)
		}
		if wantErr != io.EOF {
			var de *DecodeError
			if !errors.As(err, &de) || len(de.Raw) > MaxRawInError {
				t.Fatalf("error %#v should be a *DecodeError with at most %d raw bytes", err, MaxRawInError)
			}
		}
		if _, again := fr.Next(); again != err {
			t.Fatalf("error not sticky: %v then %v", err, again)
		}
	})
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "<>&", "\x00\x1f\x7f", "\u2028\u2029", "\xff\xe6\x97", "日本語😀", "12345678\"\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := stdEncode(t, s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s want %s", s, got, want)
		}
		// And it reads back as encoding/json reads it, through SplitEnvelope.
		frame, err := JSON.AppendEnvelope(nil, s, s)
		if err != nil {
			t.Fatal(err)
		}
		topic, payload, err := JSON.SplitEnvelope(frame)
		var back string
		if err != nil || json.Unmarshal(payload, &back) != nil || string(topic) != back {
			t.Fatalf("%q: round trip gave %q, %q, %v", s, topic, payload, err)
		}
	})
}
