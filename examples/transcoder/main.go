// Command transcoder shows a custom message.Transcoder: every frame carries
// an HMAC-SHA256 signature made with a key both ends share, and a frame
// whose signature does not match is refused. A server adds numbers for its
// clients; alice has the key and gets her answer; mallory has another key,
// and the server refuses her frame (a *message.DecodeError on "error").
//
// With no flags it makes its own socket file in a temporary folder, prints
// what happens and exits when both clients have been dealt with:
//
//	go run ./examples/transcoder
//	go run ./examples/transcoder --socket /tmp/signed.sock --key s3cret
//
// A peer in another language speaks this format by writing, per frame: 64
// lower-case hex digits of HMAC-SHA256(key, envelope), one space, the
// envelope {"topic":...,"message":...} as JSON text, and two NUL bytes.
package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"time"

	"github.com/socketipc/socketipc/client"
	"github.com/socketipc/socketipc/message"
	"github.com/socketipc/socketipc/server"
)

// Signed is a message.Transcoder that puts an HMAC-SHA256 signature in
// front of the default JSON envelope:
//
//	<64 hex digits of HMAC-SHA256(Key, envelope)> <space> {"topic":...,"message":...}
//
// The text is hex digits, a space and JSON, which never holds a NUL byte, so
// a frame can't contain the "\x00\x00" delimiter. (It is not meant for
// message.LegacyFraming: JSON strings may hold "%EOM%", and the library only
// escapes that for message.JSON itself.) It is safe for concurrent use: the
// library calls it from every connection's reader and every sender at once.
// It does not stop a frame from being recorded and replayed.
type Signed struct{ Key []byte }

// sigLen is the length of the signature in hex digits.
const sigLen = 2 * sha256.Size

// ErrBadSignature is the reason a frame is refused.
var ErrBadSignature = errors.New("bad signature")

func (s Signed) sign(dst, envelope []byte) {
	mac := hmac.New(sha256.New, s.Key)
	mac.Write(envelope)
	hex.Encode(dst, mac.Sum(nil))
}

// AppendEnvelope appends the signature, a space and the JSON envelope.
func (s Signed) AppendEnvelope(dst []byte, topic string, msg any) ([]byte, error) {
	start := len(dst)
	dst = append(dst, make([]byte, sigLen+1)...) // room for the signature and the space
	dst, err := message.JSON.AppendEnvelope(dst, topic, msg)
	if err != nil {
		return dst[:start], err
	}
	s.sign(dst[start:start+sigLen], dst[start+sigLen+1:])
	dst[start+sigLen] = ' '
	return dst, nil
}

// SplitEnvelope checks the signature, then splits the JSON envelope.
func (s Signed) SplitEnvelope(frame []byte) (topic, payload []byte, err error) {
	if len(frame) <= sigLen || frame[sigLen] != ' ' {
		return nil, nil, ErrBadSignature
	}
	var want [sigLen]byte
	s.sign(want[:], frame[sigLen+1:])
	if !hmac.Equal(want[:], frame[:sigLen]) {
		return nil, nil, ErrBadSignature
	}
	return message.JSON.SplitEnvelope(frame[sigLen+1:])
}

// Unmarshal decodes a payload as the JSON transcoder does.
func (Signed) Unmarshal(payload []byte, v any) error {
	return message.JSON.Unmarshal(payload, v)
}

type config struct {
	socket string
	key    string
}

func main() {
	var cfg config
	flag.StringVar(&cfg.socket, "socket", "", "socket file (default: a new one in a temporary folder)")
	flag.StringVar(&cfg.key, "key", "shared secret", "the key both ends sign with")
	flag.Parse()
	if cfg.socket == "" {
		dir, err := os.MkdirTemp("", "transcoder")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer os.RemoveAll(dir)
		cfg.socket = filepath.Join(dir, "signed.sock")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// printer serialises output lines from the server's and the clients' events.
type printer struct {
	mu  sync.Mutex
	out io.Writer
}

func (p *printer) say(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, format+"\n", args...)
}

type sum struct {
	A int `json:"a"`
	B int `json:"b"`
}

func run(ctx context.Context, cfg config, out io.Writer) error {
	p := &printer{out: out}
	signed := Signed{Key: []byte(cfg.key)}

	frame, err := message.AppendFrame(nil, signed, message.NulFraming, "add", sum{A: 2, B: 3})
	if err != nil {
		return err
	}
	p.say("a frame on the wire: %q", frame)

	// The server: both ends must use the same transcoder.
	srv, err := server.New(server.Options{SocketFile: cfg.socket, Transcoder: signed})
	if err != nil {
		return err
	}
	refused := make(chan struct{})
	var refusedOnce sync.Once
	srv.On("message.add", func(m sum, clientID string) {
		srv.Send("result", m.A+m.B, clientID)
	})
	srv.On("error", func(err error) {
		var de *message.DecodeError
		if errors.As(err, &de) && errors.Is(err, ErrBadSignature) {
			p.say("server: refused a frame from client %s: %v", de.ClientID[:8], ErrBadSignature)
			refusedOnce.Do(func() { close(refused) })
			return
		}
		p.say("server error: %v", err)
	})
	if err := srv.Listen(); err != nil {
		return err
	}
	defer func() {
		srv.Close()
		p.say("server closed")
	}()

	// alice signs with the right key.
	alice, err := client.New(client.Options{SocketFile: cfg.socket, Transcoder: signed})
	if err != nil {
		return err
	}
	answered := make(chan struct{})
	alice.On("connect", func() { alice.Send("add", sum{A: 2, B: 3}) })
	alice.On("message.result", func(n int) {
		p.say("alice: 2 + 3 = %d", n)
		close(answered)
	})
	alice.On("error", func(err error) { p.say("alice error: %v", err) })
	if err := alice.Connect(); err != nil {
		return err
	}
	defer alice.Close()

	// mallory signs with another key: the server refuses her frame.
	mallory, err := client.New(client.Options{SocketFile: cfg.socket, Transcoder: Signed{Key: []byte("a guess")}})
	if err != nil {
		return err
	}
	mallory.On("connect", func() { mallory.Send("add", sum{A: 40, B: 2}) })
	mallory.On("message.result", func(n int) { p.say("mallory got an answer: %d", n) })
	mallory.On("error", func(err error) { p.say("mallory error: %v", err) })
	if err := mallory.Connect(); err != nil {
		return err
	}
	defer mallory.Close()

	for _, ch := range []chan struct{}{answered, refused} {
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
