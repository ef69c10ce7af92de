// Package examplekit holds what the example programs share to run their
// plugins: finding the repository, Node.js and the Node package installed
// for the interop tests, and turning a child process's output into lines.
// It is not part of the library.
package examplekit

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// FindRoot returns the socketipc repository: the given one, else the module
// above the working directory, else the one this file was built from.
func FindRoot(given string) (string, error) {
	if given != "" {
		if !isRoot(given) {
			return "", fmt.Errorf("--root %s: not the socketipc repository", given)
		}
		return given, nil
	}
	if dir, err := os.Getwd(); err == nil {
		for {
			if isRoot(dir) {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		if dir := filepath.Join(filepath.Dir(file), "..", ".."); isRoot(dir) {
			return filepath.Clean(dir), nil
		}
	}
	return "", errors.New("cannot find the socketipc repository: run from inside it, or pass --root")
}

func isRoot(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	return err == nil && strings.HasPrefix(string(b), "module github.com/socketipc/socketipc\n")
}

// FindNode returns the node binary (node, else $SOCKETIPC_NODE, else "node"
// on PATH) and the path of script (relative to root), or why a Node plugin
// can't run: no Node.js, no script, or the Node package not installed in
// test/node/node_modules.
func FindNode(node, root, script string) (bin, scriptPath string, err error) {
	if node == "" {
		node = os.Getenv("SOCKETIPC_NODE")
	}
	if node == "" {
		node = "node"
	}
	bin, err = exec.LookPath(node)
	if err != nil {
		//lint:ignore ST1005 "Node.js" is a name; the hosts print it after "NOT starting the Node plugin: "
		return "", "", fmt.Errorf("Node.js (%s) is not installed: %w", node, err)
	}
	scriptPath = filepath.Join(root, filepath.FromSlash(script))
	if _, err := os.Stat(scriptPath); err != nil {
		return "", "", err
	}
	pkg := filepath.Join(root, "test", "node", "node_modules", "@crussell52", "socket-ipc", "package.json")
	if _, err := os.Stat(pkg); err != nil {
		return "", "", fmt.Errorf("the Node package is not installed in test/node/node_modules (%w)", err)
	}
	return bin, scriptPath, nil
}

// LineWriter hands what a child process writes to its function, line by
// line; Flush hands over the last line when it has no newline.
type LineWriter struct {
	mu   sync.Mutex
	fn   func(string)
	part []byte
}

// NewLineWriter returns a LineWriter that calls fn with each line, without
// its line ending.
func NewLineWriter(fn func(line string)) *LineWriter { return &LineWriter{fn: fn} }

func (w *LineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.part = append(w.part, b...)
	for {
		i := strings.IndexByte(string(w.part), '\n')
		if i < 0 {
			return len(b), nil
		}
		w.fn(strings.TrimRight(string(w.part[:i]), "\r"))
		w.part = w.part[i+1:]
	}
}

// Flush hands over what is left after the last newline, if anything.
func (w *LineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.part) > 0 {
		w.fn(string(w.part))
		w.part = nil
	}
}
