package conn

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/socketipc/socketipc/internal/loop"
	"github.com/socketipc/socketipc/message"
)

// EncodeSend puts on the wire exactly what AppendFrame encodes, whichever
// way it queues the frame: pooled and copied (small), in a buffer of its
// own (large), or around the caller's string without copying it (large
// plain ASCII), with small frames queued before and after.
func TestEncodeSendWritesWhatAppendFrameEncodes(t *testing.T) {
	nc, peer := unixPair(t)
	l := loop.New()
	c := New(nc, Config{Loop: l, OnMessages: func(*Conn, []Msg) {}})
	c.Run()

	plain := strings.Repeat("abcdefgh:", 20000)[:150001] // not a multiple of 8
	payloads := []any{
		"small",
		plain,
		plain[:100000] + "\"quoted\"\n" + plain[:1000], // needs escapes: encoded
		json.RawMessage(`"` + plain + `"`),
		map[string]any{"big": plain},
		plain[:maxPooledFrame+1],
		"~\x7f",
	}
	var want bytes.Buffer
	for _, p := range payloads {
		frame, err := message.AppendFrame(nil, message.JSON, message.NulFraming, "t", p)
		if err != nil {
			t.Fatal(err)
		}
		want.Write(frame)
		if err := EncodeSend(message.JSON, message.NulFraming, "t", p, c); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(peer)
		peer.Close() // our end, so that Close need not wait for it
		got <- b
	}()
	c.Close()
	<-c.Done()
	l.Stop()
	<-l.Done()
	if b := <-got; !bytes.Equal(b, want.Bytes()) {
		t.Fatalf("wire: %d bytes, want %d (AppendFrame's)", len(b), want.Len())
	}
	if tr := c.Traffic(); tr.MessagesOut != uint64(len(payloads)) || tr.BytesOut != uint64(want.Len()) {
		t.Fatalf("traffic %+v, want %d messages, %d bytes", tr, len(payloads), want.Len())
	}
}

func TestPlainASCII(t *testing.T) {
	for s, want := range map[string]bool{
		"":                         true,
		"abc":                      true,
		"abcdefgh~\x7f ijklmnop":   true,
		"abcdefgh\"":               false,
		"abcdefghijklmnop\\q":      false,
		"abcdefghijklmnopqrst\x1f": false,
		"abcdefghé":                false,
		"\x00abcdefghijklmnop":     false,
	} {
		if plainASCII(s) != want {
			t.Errorf("plainASCII(%q) = %v", s, !want)
		}
	}
}
