package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
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

// The example as users run it, 30 times: built once, each run a process of
// its own, several at a time, each stopping at a different moment between
// two hellos. A clean run prints nothing on stderr, no line with "error",
// and exits 0.
func TestConversationRunsClean(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "conversation")
	build := exec.Command("go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	const runs = 30
	parallel := max(2, runtime.NumCPU())
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			// 100 ms between hellos; stop 1.0 to 1.5 s in, in steps of 17 ms,
			// so the shutdown meets every phase of the greeting and answers.
			duration := time.Second + time.Duration(i*17)*time.Millisecond
			cmd := exec.Command(bin, "--interval", "100ms", "--duration", duration.String())
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			text := stdout.String()
			if err != nil || stderr.Len() > 0 || strings.Contains(strings.ToLower(text), "error") ||
				!strings.HasSuffix(strings.TrimSpace(text), "server closed") {
				t.Errorf("run %d (--duration %v): exit %v\nstderr:\n%s\nstdout:\n%s", i, duration, err, stderr.String(), text)
			}
		}()
	}
	wg.Wait()
}
