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
