package endpoint

import "testing"

// RequestBegun and RequestEnded are the hook of the request/reply code:
// Stats reports the requests begun and not yet ended, never fewer than 0.
func TestRequestsInFlightHook(t *testing.T) {
	e := New(Options{})
	e.RequestBegun()
	e.RequestBegun()
	e.RequestEnded()
	if got := e.Stats().RequestsInFlight; got != 1 {
		t.Fatalf("RequestsInFlight = %d, want 1", got)
	}
	e.RequestEnded()
	e.RequestEnded()
	if got := e.Stats().RequestsInFlight; got != 0 {
		t.Fatalf("RequestsInFlight = %d after more ends than begins, want 0", got)
	}
	var none *Endpoint
	if got := none.Stats(); got != (Snapshot{}) {
		t.Fatalf("a nil Endpoint's Stats = %+v, want zero", got)
	}
}
