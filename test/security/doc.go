// Package security holds the tests of socketipc's safety promises: socket file handling, permissions and peer credentials.
//
// The tests that need a second user (the socket's mode as another user sees
// it, credentials of a peer of another uid, AllowPeer refusing it) run the
// helper program in testdata/peer as the user nobody (uid and gid 65534),
// which needs the tests to run as root; elsewhere they are skipped and the
// in-process tests of the server and client packages cover the decisions.
// docs/SECURITY.md names the test behind each promise.
package security
