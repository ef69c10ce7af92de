package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The example, sped up: a hello every 100 ms for 1.5 s.
func TestConversation(t *testing.T) {
	leakcheck.Check(t)
	var out bytes.Buffer
	cfg := config{
		socket:   testsock.Path(t),
		role:     "all",
		names:    []string{"bob", "charlie"},
		interval: 100 * time.Millisecond,
		duration: 1500 * time.Millisecond,
	}
	require.NoError(t, run(context.Background(), cfg, &out))
	text := out.String()
	t.Log("\n" + text)
	assert.Contains(t, text, "server listening")
	assert.Contains(t, text, "client bob connected")
	assert.Contains(t, text, "client charlie connected")
	assert.Regexp(t, `server -> client bob \[hello\] \d+`, text)
	assert.Regexp(t, `-> server \[helloback\] map\[clientName:charlie original:\d+\]`, text)
	assert.Regexp(t, `server -> client charlie \[helloagain\] \d+`, text)
	assert.NotContains(t, text, "client bob [helloagain]", "only charlie is greeted again")
	assert.NotContains(t, text, "error")
	assert.True(t, strings.HasSuffix(strings.TrimSpace(text), "server closed"), "the server closes last")
}
