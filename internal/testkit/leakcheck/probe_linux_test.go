package leakcheck

import (
	"os"
	"testing"
)

// The fcntl probe used off Linux counts what /proc/self/fd lists, less the
// descriptor ReadDir holds open on /proc/self/fd while it reads.
func TestProbeFDsCountsLikeProc(t *testing.T) {
	before := probeFDs()
	if got := openFDs() - 1; got != before {
		t.Fatalf("probeFDs() = %d, /proc/self/fd lists %d others", before, got)
	}
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := probeFDs(); got != before+1 {
		t.Fatalf("after opening one file probeFDs() = %d, want %d", got, before+1)
	}
}
