package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/socketipc/socketipc/internal/testkit/eventlog"
	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/socketipc/socketipc/message"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The example runs by itself: alice gets her sum, mallory's frame is
// refused, and it exits once both happened.
func TestTranscoderExample(t *testing.T) {
	leakcheck.Check(t)
	ctx, cancel := context.WithTimeout(context.Background(), eventlog.Timeout)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, config{socket: testsock.Path(t), key: "k"}, &out))
	text := out.String()
	t.Log("\n" + text)
	assert.Regexp(t, `a frame on the wire: "[0-9a-f]{64} \{\\"topic\\":\\"add\\",\\"message\\":\{\\"a\\":2,\\"b\\":3\}\}\\x00\\x00"`, text)
	assert.Contains(t, text, "alice: 2 + 3 = 5")
	assert.Regexp(t, `server: refused a frame from client [0-9a-f]{8}: bad signature`, text)
	assert.NotContains(t, text, "mallory got an answer")
	assert.NotContains(t, text, "error")
	assert.True(t, strings.HasSuffix(strings.TrimSpace(text), "server closed"))
}

// The transcoder on its own: a round trip; a frame signed with another key,
// or changed by one byte, is refused; what it writes never holds the
// delimiter, even for a message full of NUL characters.
func TestSigned(t *testing.T) {
	s := Signed{Key: []byte("k")}
	msg := "a\x00\x00b\x00"
	frame, err := message.AppendFrame(nil, s, message.NulFraming, "t", msg)
	require.NoError(t, err)
	body, ok := bytes.CutSuffix(frame, []byte("\x00\x00"))
	require.True(t, ok)
	assert.NotContains(t, string(body), "\x00", "no NUL byte inside the frame")

	topic, payload, err := s.SplitEnvelope(body)
	require.NoError(t, err)
	assert.Equal(t, "t", string(topic))
	var got string
	require.NoError(t, s.Unmarshal(payload, &got))
	assert.Equal(t, msg, got)

	_, _, err = Signed{Key: []byte("other")}.SplitEnvelope(body)
	assert.ErrorIs(t, err, ErrBadSignature)
	tampered := bytes.Clone(body)
	tampered[len(tampered)-2] ^= 1
	_, _, err = s.SplitEnvelope(tampered)
	assert.ErrorIs(t, err, ErrBadSignature)
	_, _, err = s.SplitEnvelope([]byte(`{"topic":"t","message":1}`))
	assert.ErrorIs(t, err, ErrBadSignature, "an unsigned frame")

	// An unencodable message leaves dst as it was.
	dst := []byte("keep")
	out, err := s.AppendEnvelope(dst, "t", make(chan int))
	require.Error(t, err)
	assert.False(t, errors.Is(err, ErrBadSignature))
	assert.Equal(t, "keep", string(out))
}
