package backoff

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	cb "github.com/cenkalti/backoff/v4"
)

func TestConstant(t *testing.T) {
	b := Constant(250 * time.Millisecond)
	for range 10 {
		if d := b.NextBackOff(); d != 250*time.Millisecond {
			t.Fatalf("NextBackOff = %v", d)
		}
	}
	b.Reset()
	if d := b.NextBackOff(); d != 250*time.Millisecond {
		t.Fatalf("after Reset: %v", d)
	}
	if d := Constant(0).NextBackOff(); d != 0 {
		t.Fatalf("Constant(0): %v", d)
	}
}

func TestRandomRangeInclusive(t *testing.T) {
	// A small range: every value, both ends included, must turn up.
	b := Random(10, 13)
	counts := map[time.Duration]int{}
	for range 4000 {
		d := b.NextBackOff()
		if d < 10 || d > 13 {
			t.Fatalf("NextBackOff = %v, outside [10, 13]", d)
		}
		counts[d]++
	}
	for d := time.Duration(10); d <= 13; d++ {
		if counts[d] < 800 || counts[d] > 1200 { // expected 1000 each; ~8 sigma
			t.Errorf("value %v came %d times in 4000 draws", d, counts[d])
		}
	}
}

func TestRandomUniform(t *testing.T) {
	const n, buckets = 100000, 10
	lo, hi := 100*time.Millisecond, time.Second
	b := Random(lo, hi)
	var hist [buckets]int
	var sum float64
	for range n {
		d := b.NextBackOff()
		if d < lo || d > hi {
			t.Fatalf("NextBackOff = %v, outside [%v, %v]", d, lo, hi)
		}
		hist[min(int(float64(d-lo)/float64(hi-lo+1)*buckets), buckets-1)]++
		sum += float64(d)
	}
	// Chi-squared with 9 degrees of freedom: 27.9 is p = 0.001.
	var chi2 float64
	for _, c := range hist {
		e := float64(n) / buckets
		chi2 += (float64(c) - e) * (float64(c) - e) / e
	}
	if chi2 > 27.9 {
		t.Errorf("not uniform: histogram %v, chi² %.1f", hist, chi2)
	}
	mean := time.Duration(sum / n)
	if want := (lo + hi) / 2; math.Abs(float64(mean-want)) > float64(10*time.Millisecond) {
		t.Errorf("mean %v, want about %v", mean, want)
	}
}

func TestRandomSwapsAndEqual(t *testing.T) {
	b := Random(time.Second, 100*time.Millisecond)
	for range 1000 {
		if d := b.NextBackOff(); d < 100*time.Millisecond || d > time.Second {
			t.Fatalf("swapped bounds: %v", d)
		}
	}
	e := Random(time.Second, time.Second)
	for range 10 {
		if d := e.NextBackOff(); d != time.Second {
			t.Fatalf("Random(1s, 1s) = %v", d)
		}
	}
	if d := Random(0, 0).NextBackOff(); d != 0 {
		t.Fatalf("Random(0, 0) = %v", d)
	}
	b.Reset() // a no-op, but part of the interface
}

func TestRandomExtremes(t *testing.T) {
	// The full int64 range must not overflow or panic.
	b := Random(0, time.Duration(math.MaxInt64))
	for range 100 {
		if d := b.NextBackOff(); d < 0 {
			t.Fatalf("NextBackOff = %v", d)
		}
	}
	for _, b := range []BackOff{
		Random(time.Duration(math.MinInt64+1), time.Duration(math.MaxInt64)),
		Random(time.Duration(math.MinInt64), time.Duration(math.MaxInt64)),
		Random(time.Duration(math.MaxInt64-1), time.Duration(math.MaxInt64)),
	} {
		for range 100 {
			_ = b.NextBackOff()
		}
	}
	top := Random(time.Duration(math.MaxInt64-1), time.Duration(math.MaxInt64))
	for range 100 {
		if d := top.NextBackOff(); d < math.MaxInt64-1 {
			t.Fatalf("NextBackOff = %v", d)
		}
	}
}

func TestStop(t *testing.T) {
	if Stop != cb.Stop {
		t.Fatalf("Stop = %v, cenkalti's is %v", Stop, cb.Stop)
	}
	b := cb.WithMaxRetries(Constant(time.Millisecond), 2)
	var got []time.Duration
	for range 4 {
		got = append(got, b.NextBackOff())
	}
	if got[0] != time.Millisecond || got[1] != time.Millisecond || got[2] != Stop || got[3] != Stop {
		t.Fatalf("WithMaxRetries(Constant): %v", got)
	}
}

// Our policies plug into cenkalti/backoff's own machinery, and its
// policies satisfy our BackOff.
func TestWorksAsCenkaltiBackOff(t *testing.T) {
	var _ cb.BackOff = Constant(time.Second)
	var _ cb.BackOff = Random(time.Second, 2*time.Second)
	var _ BackOff = cb.NewExponentialBackOff()
	var _ BackOff = &cb.ZeroBackOff{}
	var _ BackOff = &cb.StopBackOff{}

	for _, policy := range []BackOff{Constant(time.Millisecond), Random(time.Millisecond, 2*time.Millisecond)} {
		attempts := 0
		err := cb.Retry(func() error {
			attempts++
			if attempts < 3 {
				return errors.New("not yet")
			}
			return nil
		}, cb.WithContext(policy, context.Background()))
		if err != nil || attempts != 3 {
			t.Fatalf("Retry: %v after %d attempts", err, attempts)
		}

		attempts = 0
		perm := errors.New("permanent")
		err = cb.Retry(func() error { attempts++; return cb.Permanent(perm) }, policy)
		if !errors.Is(err, perm) || attempts != 1 {
			t.Fatalf("Permanent: %v after %d", err, attempts)
		}

		attempts = 0
		err = cb.Retry(func() error { attempts++; return errors.New("always") }, cb.WithMaxRetries(policy, 2))
		if err == nil || attempts != 3 {
			t.Fatalf("WithMaxRetries: %v after %d attempts", err, attempts)
		}
	}
}
