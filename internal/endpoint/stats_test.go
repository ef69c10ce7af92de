package endpoint

import "testing"

// A nil Endpoint (a zero Server or Client) has no counters.
func TestStatsOfNil(t *testing.T) {
	var none *Endpoint
	if got := none.Stats(); got != (Snapshot{}) {
		t.Fatalf("a nil Endpoint's Stats = %+v, want zero", got)
	}
}
