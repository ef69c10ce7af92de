package conn

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/socketipc/socketipc/message"
)

// The malformed-frame allowance is a leaky bucket: a burst of
// MaxBadFrames, then MaxBadFrames per BadFrameWindow. A fixed window would
// let a peer send two bursts around its boundary (199 frames in a quarter
// of a second were kept that way); the bucket drops it.
func TestFrameGuardIsALeakyBucket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	first := &message.DecodeError{Raw: []byte("x"), ClientID: "c", Err: message.ErrNotJSON}

	t.Run("a burst up to the limit is kept", func(t *testing.T) {
		var g FrameGuard
		require.NoError(t, g.Bad(MaxBadFrames, t0, first))
		assert.False(t, g.Rejected())
		err := g.Bad(1, t0, first)
		require.ErrorIs(t, err, message.ErrTooManyBadFrames)
		var de *message.DecodeError
		require.True(t, errors.As(err, &de))
		assert.Equal(t, "c", de.ClientID)
		assert.True(t, g.Rejected())
		assert.NoError(t, g.Bad(1, t0, first), "reported once")
	})
	t.Run("two bursts across a second boundary are dropped", func(t *testing.T) {
		var g FrameGuard
		require.NoError(t, g.Bad(MaxBadFrames-1, t0.Add(900*time.Millisecond), first))
		assert.ErrorIs(t, g.Bad(MaxBadFrames, t0.Add(1100*time.Millisecond), first), message.ErrTooManyBadFrames)
	})
	t.Run("the steady rate is kept", func(t *testing.T) {
		var g FrameGuard
		step := BadFrameWindow / MaxBadFrames
		for i := range 10 * MaxBadFrames {
			require.NoError(t, g.Bad(1, t0.Add(time.Duration(i)*step), first), "frame %d", i)
		}
	})
	t.Run("the bucket empties with time", func(t *testing.T) {
		var g FrameGuard
		require.NoError(t, g.Bad(MaxBadFrames, t0, first))
		require.NoError(t, g.Bad(MaxBadFrames, t0.Add(BadFrameWindow), first))
		assert.False(t, g.Rejected())
	})
}
