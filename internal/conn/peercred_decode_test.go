package conn

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ids(a, b, c uint32) []byte {
	buf := make([]byte, 12)
	binary.NativeEndian.PutUint32(buf[0:], a)
	binary.NativeEndian.PutUint32(buf[4:], b)
	binary.NativeEndian.PutUint32(buf[8:], c)
	return buf
}

// OpenBSD's sockpeercred is uid, gid, pid; NetBSD's unpcbid is pid, uid, gid.
func TestDecodeIDs(t *testing.T) {
	got, err := decodeIDs(ids(1000, 100, 4242), layoutUIDGIDPID)
	require.NoError(t, err)
	assert.Equal(t, PeerCred{PID: 4242, UID: 1000, GID: 100}, got)

	got, err = decodeIDs(ids(4242, 1000, 100), layoutPIDUIDGID)
	require.NoError(t, err)
	assert.Equal(t, PeerCred{PID: 4242, UID: 1000, GID: 100}, got)
}

// What cannot be a peer is refused rather than read as root: an unfilled
// (zero) buffer, a short one, an unknown layout.
func TestDecodeIDsRefusesWhatIsNoPeer(t *testing.T) {
	for name, tc := range map[string]struct {
		b      []byte
		layout idLayout
	}{
		"zeros, uid-first": {make([]byte, 12), layoutUIDGIDPID},
		"zeros, pid-first": {make([]byte, 12), layoutPIDUIDGID},
		"short":            {ids(1, 2, 3)[:8], layoutPIDUIDGID},
		"negative pid":     {ids(0xffffffff, 0, 0), layoutPIDUIDGID},
		"unknown layout":   {ids(1, 2, 3), idLayout(9)},
	} {
		_, err := decodeIDs(tc.b, tc.layout)
		assert.ErrorIs(t, err, errBadCred, name)
	}
}

// darwin and FreeBSD: the effective gid is the first group; a struct of
// another version, or with no groups, is refused.
func TestFromXucred(t *testing.T) {
	groups := []uint32{20, 12, 61}
	got, err := fromXucred(xucredVersion, 501, 3, groups)
	require.NoError(t, err)
	assert.Equal(t, PeerCred{UID: 501, GID: 20}, got)

	_, err = fromXucred(xucredVersion+1, 501, 3, groups)
	assert.ErrorIs(t, err, errBadCred)
	_, err = fromXucred(xucredVersion, 501, 0, groups)
	assert.ErrorIs(t, err, errBadCred)
	_, err = fromXucred(xucredVersion, 501, 17, groups)
	assert.ErrorIs(t, err, errBadCred)
}
