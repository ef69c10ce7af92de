// Package reliability holds the fault and load tests of socketipc: crashes, floods, slow and malicious peers.
//
// Every scenario is a Go test with a short form, run by "go test -race ./...",
// and a long form, selected with "go test ./test/reliability -args -long" or
// SOCKETIPC_SOAK=1, which scripts/soak runs to produce docs/RELIABILITY.md.
// Each test logs one machine-readable result line, "SOAK {json}", and appends
// the same JSON to the file named by SOCKETIPC_SOAK_RESULTS when it is set.
//
// The crash and load scenarios run the server in a separate process,
// internal/ipcserver, built by the tests with "go build", so that it can be
// killed with SIGKILL and its memory measured on its own. It is built without
// the race detector unless SOCKETIPC_HELPER_RACE=1.
//
// The tests are built on Linux only: they measure memory through /proc.
package reliability
