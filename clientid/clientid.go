// Package clientid makes and checks the ids a server gives its connections:
// the canonical lower-case text of a random (version 4) UUID, as the Node
// package socket-ipc uses. Ids are local to one server; they never cross the wire.
package clientid

import "github.com/google/uuid"

// New returns a fresh random client id.
func New() string { return uuid.NewString() }

// Valid reports whether id is the canonical text of a version 4 UUID:
// 36 characters, lower-case hex, hyphens at the usual places.
func Valid(id string) bool {
	if len(id) != 36 {
		return false
	}
	u, err := uuid.Parse(id)
	if err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 {
		return false
	}
	return u.String() == id
}
