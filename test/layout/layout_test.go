// Package layout checks that the repository's layout says what it promises:
// the library's packages depend on nothing test-only and keep a small
// dependency graph, the tooling's Go programs live in packages, not in
// scripts/, and every nested module is tested while the root module stays
// free of NATS.
package layout

import (
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/socketipc/socketipc"

// libraryPackages are what users import.
var libraryPackages = []string{"./backoff", "./client", "./clientid", "./emitter", "./message", "./server"}

type goPackage struct {
	ImportPath string
	Standard   bool
	Imports    []string
}

func goList(t *testing.T, args ...string) []goPackage {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json"}, args...)...)
	cmd.Dir = moduleRoot(t)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list %v", args)
	var pkgs []goPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else {
			require.NoError(t, err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(dir, "go.mod"))
	require.NoError(t, err, "test/layout expects the module root two levels up")
	return dir
}

// The library's dependency graph: no test helper, no HTTP or RPC stack (the
// EventBus bridge, which pulls them in, is a nested module of its own).
func TestLibraryDependencies(t *testing.T) {
	deps := goList(t, append([]string{"-deps"}, libraryPackages...)...)
	for _, p := range deps {
		require.NotContains(t, p.ImportPath, "/internal/testkit", "a library package depends on a test helper")
		require.NotContains(t, []string{"net/http", "net/rpc"}, p.ImportPath, "the library pulls in %s", p.ImportPath)
		if !p.Standard {
			require.True(t, strings.HasPrefix(p.ImportPath, module+"/") ||
				strings.HasPrefix(p.ImportPath, "github.com/google/uuid") ||
				strings.HasPrefix(p.ImportPath, "github.com/cenkalti/backoff/v4") ||
				strings.HasPrefix(p.ImportPath, "golang.org/x/sys/"),
				"unexpected dependency %s (docs/DESIGN.md lists the chosen ones)", p.ImportPath)
		}
	}
	t.Logf("%d packages in the library's graph", len(deps))
	require.Less(t, len(deps), 150)
}

// Production code (every non-test file outside internal/testkit) never
// imports a test helper.
func TestTestHelpersAreTestOnly(t *testing.T) {
	for _, p := range goList(t, "./...") {
		if strings.Contains(p.ImportPath, "/internal/testkit/") {
			continue
		}
		for _, imp := range p.Imports {
			require.NotContains(t, imp, "/internal/testkit/", "%s imports a test helper outside its tests", p.ImportPath)
		}
	}
}

// scripts/ holds shell entry points only; Go programs live in packages.
func TestScriptsHoldNoGo(t *testing.T) {
	root := filepath.Join(moduleRoot(t), "scripts")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		require.False(t, !d.IsDir() && strings.HasSuffix(path, ".go"), "Go file in scripts/: %s", path)
		return nil
	})
	require.NoError(t, err)
}

// Every nested module (a go.mod below the root) is named in scripts/test's
// nested=(...) list, which downloads, verifies, vets and tests each, and
// every name there is one.
func TestNestedModulesTested(t *testing.T) {
	root := moduleRoot(t)
	script, err := os.ReadFile(filepath.Join(root, "scripts", "test"))
	require.NoError(t, err)
	var listed []string
	for _, line := range strings.Split(string(script), "\n") {
		if rest, ok := strings.CutPrefix(line, "nested=("); ok {
			listed = strings.Fields(strings.TrimSuffix(rest, ")"))
		}
	}
	require.NotEmpty(t, listed, "scripts/test has no nested=(...) line")
	var found []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && d.Name() == "go.mod" && path != filepath.Join(root, "go.mod") {
			rel, err := filepath.Rel(root, filepath.Dir(path))
			require.NoError(t, err)
			found = append(found, filepath.ToSlash(rel))
		}
		return nil
	})
	require.NoError(t, err)
	require.ElementsMatch(t, found, listed, "the go.mod files below the root, and scripts/test's nested=(...)")
}

// The root module (library, examples, tools, tests) does not depend on
// NATS: the bridge and the federation example are nested modules.
func TestRootModuleWithoutNATS(t *testing.T) {
	cmd := exec.Command("go", "list", "-m", "all")
	cmd.Dir = moduleRoot(t)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	require.NoError(t, err)
	require.NotContains(t, string(out), "nats-io", "the root module's graph holds NATS")
}
