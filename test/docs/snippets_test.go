// Package docs checks the documentation: every Go snippet in README.md and
// docs/*.md compiles against this module.
//
// The rule, so that a snippet can be written as a reader wants to read it:
//
//   - Every ```go block of a Markdown file is a snippet. The snippets of one
//     file form one Go package, type-checked together.
//   - A snippet that is only an import declaration is that file's import
//     block: every snippet of the file gets exactly those imports, so they
//     must be enough for all of them, and each must be used by one of them.
//     A file without one gets every library package and common standard
//     packages (defaultImports), unused ones allowed.
//   - A snippet that parses as the declarations of a Go file (types, funcs,
//     vars, consts) is placed at file level, so later snippets can use them.
//   - Any other snippet is placed in the body of `func() error { ...; return
//     nil }`: statements, as in a listener or in main, that may `return err`.
//     A snippet that is neither (declarations mixed with statements) fails.
//   - Names a snippet uses without declaring them, such as srv, cli, path,
//     are declared in givens at package level; a file that declares one of
//     them itself at file level shadows the given one.
//   - "declared and not used" is allowed (a snippet shows a fragment);
//     every other compiler error fails the test, named by file:line.
package docs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/scanner"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// defaultImports are the imports of a Markdown file without an import block.
var defaultImports = map[string]string{ // name -> path
	"server":   "github.com/socketipc/socketipc/server",
	"client":   "github.com/socketipc/socketipc/client",
	"message":  "github.com/socketipc/socketipc/message",
	"backoff":  "github.com/socketipc/socketipc/backoff",
	"clientid": "github.com/socketipc/socketipc/clientid",
	"emitter":  "github.com/socketipc/socketipc/emitter",
	"cb":       "github.com/cenkalti/backoff/v4",
	"context":  "context",
	"errors":   "errors",
	"fmt":      "fmt",
	"log":      "log",
	"net":      "net",
	"os":       "os",
	"syscall":  "syscall",
	"time":     "time",
	"json":     "encoding/json",
	"hmac":     "crypto/hmac",
	"sha256":   "crypto/sha256",
	"hex":      "encoding/hex",
}

// givens are the names snippets use without declaring them, by name.
var givens = map[string]string{
	"srv":     "var srv *server.Server",
	"cli":     "var cli *client.Client",
	"err":     "var err error",
	"path":    `var path = "/run/myapp/app.sock"`,
	"secret":  `var secret = "a shared key"`,
	"n":       "var n int",
	"items":   "var items []any",
	"Hello":   "type Hello struct{ Name string `json:\"name\"` }",
	"ctx":     "var ctx context.Context",
	"cliConn": "var cliConn *client.Conn",
}

// givenImports are the packages the givens need.
var givenImports = map[string]string{
	"server":  "github.com/socketipc/socketipc/server",
	"client":  "github.com/socketipc/socketipc/client",
	"context": "context",
}

// docFiles are the Markdown files whose snippets must compile, relative to
// the module root.
func docFiles(t *testing.T, root string) []string {
	files := []string{"README.md", "examples/README.md"}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	require.NoError(t, err)
	for _, d := range docs {
		rel, err := filepath.Rel(root, d)
		require.NoError(t, err)
		files = append(files, rel)
	}
	return files
}

type snippet struct {
	file string // Markdown file, relative to the module root
	line int    // line of the first line of code in file
	code string
}

// extractSnippets returns the ```go blocks of a Markdown file.
func extractSnippets(t *testing.T, root, file string) []snippet {
	data, err := os.ReadFile(filepath.Join(root, file))
	require.NoError(t, err)
	var out []snippet
	var cur *snippet
	var body strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		trimmed := strings.TrimSpace(text)
		switch {
		case cur == nil && trimmed == "```go":
			cur = &snippet{file: file, line: line + 1}
			body.Reset()
		case cur != nil && trimmed == "```":
			cur.code = body.String()
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(text)
			body.WriteByte('\n')
		}
	}
	require.NoError(t, sc.Err())
	require.Nil(t, cur, "%s: a ```go block is not closed", file)
	return out
}

// generated is one snippet turned into a Go file.
type generated struct {
	snippet
	name   string // file name given to the parser
	offset int    // generated line = offset + line in the snippet (1-based)
	src    string
}

func (g generated) where(line int) string {
	if line <= g.offset {
		return fmt.Sprintf("%s:%d", g.file, g.line)
	}
	return fmt.Sprintf("%s:%d", g.file, g.line+line-g.offset-1)
}

// syntax names the place of a parse error of the snippet, generated with
// offset lines before it.
func (g generated) syntax(err error, offset int) string {
	var list scanner.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		return fmt.Sprintf("%s:%d: %s", g.file, g.line+list[0].Pos.Line-offset-1, list[0].Msg)
	}
	return err.Error()
}

func importBlock(imports map[string]string) string {
	var b strings.Builder
	b.WriteString("import (\n")
	names := make([]string, 0, len(imports))
	for n := range imports {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "\t%s %q\n", n, imports[n])
	}
	b.WriteString(")\n")
	return b.String()
}

// parseImportOnly returns the imports of a snippet that is only an import
// declaration (name -> path), or nil.
func parseImportOnly(code string) map[string]string {
	f, err := parser.ParseFile(token.NewFileSet(), "x.go", "package p\n"+code, parser.ImportsOnly)
	if err != nil || len(f.Imports) == 0 {
		return nil
	}
	// Only imports: nothing else may follow them.
	full, err := parser.ParseFile(token.NewFileSet(), "x.go", "package p\n"+code, 0)
	if err != nil {
		return nil
	}
	for _, d := range full.Decls {
		if gd, ok := d.(*ast.GenDecl); !ok || gd.Tok != token.IMPORT {
			return nil
		}
	}
	imports := map[string]string{}
	for _, spec := range f.Imports {
		p, _ := strconv.Unquote(spec.Path.Value)
		name := p[strings.LastIndex(p, "/")+1:]
		if p == "github.com/cenkalti/backoff/v4" {
			name = "backoff"
		}
		if spec.Name != nil {
			name = spec.Name.Name
		}
		imports[name] = p
	}
	return imports
}

// checkFile type-checks the snippets of one Markdown file and returns the
// failures, each starting with file:line.
func checkFile(t *testing.T, root string, imp types.Importer, snippets []snippet) []string {
	var failures []string
	imports := defaultImports
	explicit := false
	var code []snippet
	for _, s := range snippets {
		if im := parseImportOnly(s.code); im != nil {
			require.False(t, explicit, "%s:%d: a second import block", s.file, s.line)
			imports, explicit = im, true
			continue
		}
		code = append(code, s)
	}
	if len(code) == 0 {
		return nil
	}
	header := "package snippets\n\n" + importBlock(imports)
	headerLines := strings.Count(header, "\n")

	fset := token.NewFileSet()
	var gens []generated
	var files []*ast.File
	declared := map[string]bool{}
	for i, s := range code {
		g := generated{snippet: s, name: filepath.Join(root, fmt.Sprintf("snippet%03d.go", i))}
		asFile := header + s.code
		if f, err := parser.ParseFile(fset, g.name, asFile, 0); err == nil {
			g.offset, g.src = headerLines, asFile
			files = append(files, f)
			for _, obj := range f.Scope.Objects {
				declared[obj.Name] = true
			}
		} else {
			asBody := header + "func _() error {\n" + s.code + "return nil\n}\n"
			f, err2 := parser.ParseFile(fset, g.name, asBody, 0)
			if err2 != nil {
				failures = append(failures, fmt.Sprintf("%s: neither Go declarations nor statements:\n  as declarations, %s\n  as statements, %s",
					g.where(0), g.syntax(err, headerLines), g.syntax(err2, headerLines+1)))
				continue
			}
			g.offset, g.src = headerLines+1, asBody
			files = append(files, f)
		}
		gens = append(gens, g)
	}

	// The givens that this file does not declare itself.
	var given strings.Builder
	given.WriteString("package snippets\n\n" + importBlock(givenImports))
	for _, name := range sortedKeys(givens) {
		if !declared[name] {
			given.WriteString(givens[name] + "\n")
		}
	}
	gf, err := parser.ParseFile(fset, filepath.Join(root, "givens.go"), given.String(), 0)
	require.NoError(t, err, "givens:\n%s", given.String())
	files = append(files, gf)

	byName := map[string]generated{}
	for _, g := range gens {
		byName[g.name] = g
	}
	unusedImports := map[string]int{} // path -> files that did not use it
	conf := types.Config{
		Importer: imp,
		Error: func(err error) {
			te := err.(types.Error)
			pos := fset.Position(te.Pos)
			g, ok := byName[pos.Filename]
			if !ok {
				failures = append(failures, fmt.Sprintf("%s: %s (in the generated %s)", code[0].file, te.Msg, pos))
				return
			}
			switch {
			case strings.Contains(te.Msg, "declared and not used"):
				return
			case strings.Contains(te.Msg, "imported") && strings.HasSuffix(te.Msg, "and not used"):
				path, _, _ := strings.Cut(strings.TrimPrefix(te.Msg, `"`), `"`)
				unusedImports[path]++
				return
			}
			failures = append(failures, fmt.Sprintf("%s: %s", g.where(pos.Line), te.Msg))
		},
	}
	conf.Check("snippets", fset, files, nil)
	if explicit {
		// An import of the block that no snippet used is reported once per
		// generated file; unused by all of them, it is not needed.
		for path, count := range unusedImports {
			if count == len(gens) {
				failures = append(failures, fmt.Sprintf("%s:%d: the import block's %q is used by no snippet", code[0].file, snippets[0].line, path))
			}
		}
	}
	return failures
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// exportImporter imports packages from the export data that `go list
// -export` builds, so that the library is checked as it is in this tree.
func exportImporter(t *testing.T, root string, fset *token.FileSet, paths []string) types.Importer {
	cmd := exec.Command("go", append([]string{"list", "-export", "-deps", "-f", "{{.ImportPath}}={{.Export}}"}, paths...)...)
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list -export")
	exports := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if path, file, ok := strings.Cut(line, "="); ok && file != "" {
			exports[path] = file
		}
	}
	return importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		file, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %q (not a dependency of the snippets' imports)", path)
		}
		return os.Open(file)
	})
}

func moduleRoot(t *testing.T) string {
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(dir, "go.mod"))
	require.NoError(t, err, "test/docs expects the module root two levels up")
	return dir
}

// Every Go snippet of README.md, examples/README.md and docs/*.md compiles,
// by the rule in the package comment.
func TestSnippetsCompile(t *testing.T) {
	root := moduleRoot(t)
	perFile := map[string][]snippet{}
	paths := map[string]bool{}
	for _, p := range defaultImports {
		paths[p] = true
	}
	files := docFiles(t, root)
	total := 0
	for _, f := range files {
		perFile[f] = extractSnippets(t, root, f)
		total += len(perFile[f])
		for _, s := range perFile[f] {
			for _, p := range parseImportOnly(s.code) {
				paths[p] = true
			}
		}
	}
	var list []string
	for p := range paths {
		list = append(list, p)
	}
	sort.Strings(list)
	imp := exportImporter(t, root, token.NewFileSet(), list)
	var failures []string
	for _, f := range files {
		failures = append(failures, checkFile(t, root, imp, perFile[f])...)
	}
	require.Positive(t, total)
	require.Empty(t, failures, "snippets that do not compile (rule: test/docs package comment):\n%s", strings.Join(failures, "\n"))
	t.Logf("%d snippets in %d files compile", total, len(files))
}

// The harness fails, naming file:line, on the mistakes it exists to catch:
// a one-value PeerCred, declarations mixed with statements, an unknown name,
// an import of the block that no snippet uses, a package missing from it.
func TestSnippetHarnessCatchesMistakes(t *testing.T) {
	root := moduleRoot(t)
	imp := exportImporter(t, root, token.NewFileSet(), sortedValues(defaultImports))
	check := func(snippets ...snippet) string {
		return strings.Join(checkFile(t, root, imp, snippets), "\n")
	}
	onlyPeerCred := snippet{file: "X.md", line: 10, code: "srv.On(\"connection\", func(id string, conn *server.Conn) {\n\tcred := conn.PeerCred()\n\t_ = cred\n})\n"}
	require.Contains(t, check(onlyPeerCred), "X.md:11: assignment mismatch")
	mixed := snippet{file: "X.md", line: 20, code: "x := 1\n\nfunc f() {}\n"}
	require.Contains(t, check(mixed), "X.md:20: neither Go declarations nor statements")
	unknown := snippet{file: "X.md", line: 30, code: "srv.Sned(\"a\", 1, \"b\")\n"}
	require.Contains(t, check(unknown), "X.md:30: srv.Sned undefined")
	block := snippet{file: "X.md", line: 1, code: "import (\n\t\"fmt\"\n\t\"github.com/socketipc/socketipc/server\"\n)\n"}
	uses := snippet{file: "X.md", line: 40, code: "var s *server.Server\n"}
	require.Contains(t, check(block, uses), `the import block's "fmt" is used by no snippet`)
	missing := snippet{file: "X.md", line: 50, code: "log.Print(1)\n"}
	require.Contains(t, check(block, missing), "X.md:50: undefined: log")
	require.Empty(t, check(snippet{file: "X.md", line: 60, code: "cred, err := srv.Conn(\"id\").PeerCred()\n_ = cred\nreturn err\n"}))
}

func sortedValues(m map[string]string) []string {
	var vals []string
	for _, v := range m {
		vals = append(vals, v)
	}
	sort.Strings(vals)
	return vals
}
