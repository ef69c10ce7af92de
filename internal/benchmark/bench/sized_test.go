package bench

import (
	"strings"
	"testing"
)

// TestSizedPayloads checks that a sized payload carries its index where Seq
// reads it, and that Seq with Len accepts exactly the expected sequence.
func TestSizedPayloads(t *testing.T) {
	const size = 40
	b := SizedPayload(size)
	if len(b) != size {
		t.Fatalf("payload of %d bytes, want %d", len(b), size)
	}
	seq := Seq{Name: "test", Max: 3, Len: size}
	for i := range 3 {
		PutIndex(b, i)
		if !strings.HasPrefix(string(b), strings.Repeat("0", IndexWidth-1)+string(rune('0'+i))+":") {
			t.Fatalf("payload %d starts %q", i, b[:IndexWidth+1])
		}
		if err := seq.CheckJSON([]byte(`"` + string(b) + `"`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := seq.CheckString(string(b)); err == nil {
		t.Fatal("a fourth message of three was accepted")
	}

	for name, p := range map[string]func() []byte{
		"skipped":   func() []byte { PutIndex(b, 1); return b },
		"too short": func() []byte { PutIndex(b, 0); return b[:size-1] },
		"repeated":  nil,
	} {
		seq := Seq{Name: name, Max: 3, Len: size}
		if p == nil {
			PutIndex(b, 0)
			if err := seq.CheckString(string(b)); err != nil {
				t.Fatal(err)
			}
			p = func() []byte { return b }
		}
		if err := seq.CheckString(string(p())); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	PutIndex(b, 12345678)
	if got := string(b[:IndexWidth+1]); got != "12345678:" {
		t.Fatalf("index written as %q", got)
	}
}
