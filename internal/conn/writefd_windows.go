package conn

// writeFD writes nothing on Windows: Go's sockets there use overlapped I/O,
// where a plain WriteFile on the handle is not a non-blocking attempt. The
// frame goes, untouched, to the front of the queue for the writer goroutine,
// which sends it through the net package.
func writeFD(uintptr, []byte) (int, error) { return 0, nil }
