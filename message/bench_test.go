package message

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"
)

var benchFrame = []byte(`{"topic":"hello","message":"12:abcdefghijklmnopqrstuvwxyzabcdef"}`)

var benchObjectFrame = []byte(`{"topic":"user.update","message":{"id":12345,"name":"gopher","tags":["a","b","c"],"active":true,"score":98.5,"address":{"city":"Zürich","zip":"8000"}}}`)

type benchStruct struct {
	ID     int      `json:"id"`
	Name   string   `json:"name"`
	Tags   []string `json:"tags"`
	Active bool     `json:"active"`
	Score  float64  `json:"score"`
}

var benchMessages = []struct {
	name string
	msg  any
}{
	{"string", "12:abcdefghijklmnopqrstuvwxyzabcdef"},
	{"map", map[string]any{"id": 12345, "name": "gopher", "tags": []any{"a", "b", "c"}, "active": true, "score": 98.5}},
	{"struct", benchStruct{ID: 12345, Name: "gopher", Tags: []string{"a", "b", "c"}, Active: true, Score: 98.5}},
}

func BenchmarkAppendFrame(b *testing.B) {
	for _, bm := range benchMessages {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 1024)
			for b.Loop() {
				var err error
				if buf, err = AppendFrame(buf[:0], JSON, NulFraming, "hello", bm.msg); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

// BenchmarkAppendFrameBaseline is the plain encoding/json way to write the
// same frames: json.Marshal of an envelope struct plus the delimiter.
func BenchmarkAppendFrameBaseline(b *testing.B) {
	type envelope struct {
		Topic   string `json:"topic"`
		Message any    `json:"message"`
	}
	for _, bm := range benchMessages {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for b.Loop() {
				out, err := json.Marshal(envelope{"hello", bm.msg})
				if err != nil {
					b.Fatal(err)
				}
				out = append(out, 0, 0)
				n = len(out)
			}
			b.SetBytes(int64(n))
		})
	}
}

func BenchmarkSplitEnvelope(b *testing.B) {
	for _, bm := range []struct {
		name  string
		frame []byte
	}{{"string", benchFrame}, {"object", benchObjectFrame}} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bm.frame)))
			for b.Loop() {
				if _, _, err := JSON.SplitEnvelope(bm.frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSplitEnvelopeBaseline decodes the same frames the plain
// encoding/json way, for comparison with BenchmarkSplitEnvelope.
func BenchmarkSplitEnvelopeBaseline(b *testing.B) {
	for _, bm := range []struct {
		name  string
		frame []byte
	}{{"string", benchFrame}, {"object", benchObjectFrame}} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bm.frame)))
			for b.Loop() {
				var env struct {
					Topic   string
					Message json.RawMessage
				}
				if err := json.Unmarshal(bm.frame, &env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	_, payload, _ := JSON.SplitEnvelope(benchObjectFrame)
	b.Run("any-string", func(b *testing.B) {
		b.ReportAllocs()
		p := []byte(`"12:abcdefghijklmnopqrstuvwxyzabcdef"`)
		for b.Loop() {
			var v any
			if err := JSON.Unmarshal(p, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("struct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v benchStruct
			if err := JSON.Unmarshal(payload, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// repeatReader replays data forever.
type repeatReader struct {
	data []byte
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := copy(p, r.data[r.off:])
	r.off = (r.off + n) % len(r.data)
	return n, nil
}

func BenchmarkFrameReader(b *testing.B) {
	var stream []byte
	for len(stream) < 1<<20 {
		stream = append(stream, benchFrame...)
		stream = append(stream, 0, 0)
	}
	stream = stream[:len(stream)/(len(benchFrame)+2)*(len(benchFrame)+2)]
	b.ReportAllocs()
	b.SetBytes(int64(len(benchFrame) + 2))
	fr := NewFrameReader(&repeatReader{data: stream}, NulFraming, 0)
	var frames [][]byte
	for b.Loop() {
		if len(frames) == 0 {
			var err error
			if frames, err = fr.Next(); err != nil {
				b.Fatal(err)
			}
		}
		frames = frames[1:]
	}
}

// BenchmarkFrameReaderSplit is the receive path of one frame: cut it from
// the stream, then split the envelope.
func BenchmarkFrameReaderSplit(b *testing.B) {
	stream := bytes.Repeat(append(append([]byte{}, benchFrame...), 0, 0), 10000)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchFrame) + 2))
	fr := NewFrameReader(&repeatReader{data: stream}, NulFraming, 0)
	var frames [][]byte
	for b.Loop() {
		if len(frames) == 0 {
			var err error
			if frames, err = fr.Next(); err != nil && err != io.EOF {
				b.Fatal(err)
			}
		}
		if _, _, err := JSON.SplitEnvelope(frames[0]); err != nil {
			b.Fatal(err)
		}
		frames = frames[1:]
	}
}
