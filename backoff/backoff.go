// Package backoff gives the client its retry and reconnect delay policies.
//
// BackOff is the interface of github.com/cenkalti/backoff/v4, so any of that
// package's policies (exponential, with a retry limit, ...) can be used.
// Constant and Random give the two forms the Node package accepts: a fixed
// number of milliseconds, and {min, max} for a uniformly random delay.
// A policy that returns Stop ends the client's attempts.
package backoff

import (
	"math"
	"math/rand/v2"
	"time"

	cb "github.com/cenkalti/backoff/v4"
)

// BackOff is a delay policy: NextBackOff gives the next wait, or Stop.
type BackOff = cb.BackOff

// Stop, returned by NextBackOff, means "do not try again".
const Stop = cb.Stop

// Constant waits d every time.
func Constant(d time.Duration) BackOff { return cb.NewConstantBackOff(d) }

// Random waits a uniformly random duration between min and max, both included.
// If max is below min the two are swapped.
func Random(min, max time.Duration) BackOff {
	if max < min {
		min, max = max, min
	}
	return &random{min: min, max: max}
}

type random struct{ min, max time.Duration }

func (r *random) NextBackOff() time.Duration {
	if r.max == r.min {
		return r.min
	}
	// The span in uint64, so that a range as wide as int64 can't overflow.
	span := uint64(r.max - r.min)
	if span == math.MaxUint64 {
		return r.min + time.Duration(rand.Uint64())
	}
	return r.min + time.Duration(rand.N(span+1))
}

func (r *random) Reset() {}
