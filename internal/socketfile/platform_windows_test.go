package socketfile

import (
	"errors"
	"testing"

	"github.com/socketipc/socketipc/internal/testkit/testsock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Windows has no permission bits on socket files: a SocketMode is refused,
// early and clearly, and binding without one works.
func TestSocketModeRefusedOnWindows(t *testing.T) {
	err := ValidateMode(0o600)
	assert.ErrorIs(t, err, ErrInvalid)
	assert.True(t, errors.Is(err, errors.ErrUnsupported), "%v", err)
	_, err = Listen(testsock.Path(t), 0o600)
	assert.True(t, errors.Is(err, errors.ErrUnsupported), "%v", err)

	l, err := Listen(testsock.Path(t), 0)
	require.NoError(t, err)
	require.NoError(t, l.Close())
}
