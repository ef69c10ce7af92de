package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mdLink matches the target of a Markdown link, without its #anchor.
var mdLink = regexp.MustCompile(`\]\(([^)#\s]*)(#[^)\s]*)?\)`)

// notInRepo are files that users do not have: the project's own working
// notes. A document that cites them sends its reader nowhere.
var notInRepo = regexp.MustCompile(`SPEC\.md|HELPERS\.md|\.\./shared|\bissues? \d`)

// The documents refer only to files in the repository: every relative link
// resolves, and none cites the project's working notes.
func TestDocsReferToRepoFiles(t *testing.T) {
	root := moduleRoot(t)
	files := append(docFiles(t, root), "CHANGELOG.md")
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(root, f))
		require.NoError(t, err)
		for i, line := range strings.Split(string(data), "\n") {
			if m := notInRepo.FindString(line); m != "" {
				t.Errorf("%s:%d: cites %q, which users do not have", f, i+1, m)
			}
			for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if target == "" || strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				_, err := os.Stat(filepath.Join(root, filepath.Dir(f), target))
				assert.NoError(t, err, "%s:%d: link to %s", f, i+1, target)
			}
		}
	}
}

// testName matches a test, example or benchmark named in prose.
var testName = regexp.MustCompile(`\b(Test|Example|Benchmark)[A-Z][A-Za-z0-9_]*`)

// Every test a document names exists: a claim that names a test that was
// renamed or removed is backed by nothing.
func TestNamedTestsExist(t *testing.T) {
	root := moduleRoot(t)
	defined := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range regexp.MustCompile(`(?m)^func (\w+)\(`).FindAllStringSubmatch(string(data), -1) {
			defined[m[1]] = true
		}
		return nil
	})
	require.NoError(t, err)
	files := append(docFiles(t, root), "CHANGELOG.md")
	named := 0
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(root, f))
		require.NoError(t, err)
		for i, line := range strings.Split(string(data), "\n") {
			for _, name := range testName.FindAllString(line, -1) {
				if name == "TestName" { // the placeholder of "(package TestName)"
					continue
				}
				named++
				assert.True(t, defined[name], "%s:%d: names %s, which no _test.go file defines", f, i+1, name)
			}
		}
	}
	t.Logf("%d names of tests in the documents, %d tests defined", named, len(defined))
}
