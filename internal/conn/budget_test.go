package conn

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// docs/SECURITY.md (term A) and docs/DESIGN.md quote the reservation a
// reader takes before a read: a change to Msg's size changes it.
func TestReadReservationIsDocumented(t *testing.T) {
	assert.Equal(t, int64(704<<10), readReservation, "update the 704 KiB in docs/SECURITY.md and docs/DESIGN.md")
}
