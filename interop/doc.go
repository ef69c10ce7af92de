// Package interop holds the tests that run this library against the Node package socket-ipc.
package interop
