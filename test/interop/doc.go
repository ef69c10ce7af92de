// Package interop holds the tests that run this library against the Node package socket-ipc.
//
// The tests are built on Unix systems only: Node on Windows listens on named
// pipes, not on the AF_UNIX socket files socketipc uses there.
package interop
