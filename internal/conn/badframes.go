package conn

import (
	"errors"
	"fmt"
	"time"

	"github.com/socketipc/socketipc/message"
)

// A connection may send malformed frames (not JSON, not an object, no
// string topic) in a burst of at most MaxBadFrames, and then at most
// MaxBadFrames per BadFrameWindow (a leaky bucket, so no window boundary
// lets a peer send two bursts back to back); past that it is dropped: a
// peer that does so is broken or hostile, and each such frame would
// otherwise cost an error event (and, with no error listener, a log line).
const (
	MaxBadFrames   = 100
	BadFrameWindow = time.Second
)

// FrameGuard counts one connection's malformed frames. It is used on the
// loop only, by whoever delivers that connection's messages.
type FrameGuard struct {
	level    float64 // malformed frames not yet leaked away
	last     time.Time
	rejected bool
}

// Rejected reports whether the connection went over the limit: nothing
// more of it is delivered.
func (g *FrameGuard) Rejected() bool { return g.rejected }

// Bad records n consecutive malformed frames, the first of which failed
// with first. Past the limit it returns the error to report, a
// *message.DecodeError (the sender's id and the bytes of first) wrapping
// message.ErrTooManyBadFrames, and the caller should Reject the connection.
func (g *FrameGuard) Bad(n int, now time.Time, first error) error {
	if g.rejected {
		return nil
	}
	if !g.last.IsZero() {
		leaked := now.Sub(g.last).Seconds() / BadFrameWindow.Seconds() * MaxBadFrames
		g.level = max(0, g.level-leaked)
	}
	g.last = now
	g.level += float64(n)
	if g.level <= MaxBadFrames {
		return nil
	}
	g.rejected = true
	cut := &message.DecodeError{Err: fmt.Errorf("%w: faster than %d per %v (a burst of %d at most); disconnecting",
		message.ErrTooManyBadFrames, MaxBadFrames, BadFrameWindow, MaxBadFrames)}
	var de *message.DecodeError
	if errors.As(first, &de) {
		cut.Raw, cut.ClientID = de.Raw, de.ClientID
	}
	return cut
}

// separateBadFrames: in a run of malformed frames from one read, the first
// ones are reported one by one, the rest in one event.
const separateBadFrames = 10

// BadRun is for a malformed msgs[i] that follows before malformed frames
// of the same batch in a row. It returns how many frames from msgs[i] on it
// stands for and the error event to emit for them: the first
// separateBadFrames of a run are one event each; the rest of the run is one
// *message.RepeatedError (the first of them, with the count), so a flood
// of bad frames in one read is a few events, not one per frame.
func BadRun(msgs []Msg, i, before int) (int, error) {
	if before < separateBadFrames {
		return 1, msgs[i].Err
	}
	j := i + 1
	for j < len(msgs) && !msgs[j].Check(nil) {
		j++
	}
	if j-i == 1 {
		return 1, msgs[i].Err
	}
	return j - i, &message.RepeatedError{Err: msgs[i].Err, Count: j - i}
}
