package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readmeBuildTimeout bounds a block's build and vet: longer than
// buildTimeout, as the blocks build in parallel, and the first may fetch
// go-redis.
const readmeBuildTimeout = 5 * time.Minute

// goBlock is one ```go block of the repository's Markdown.
type goBlock struct {
	file    string // relative to the repository's root
	line    int    // of the opening fence
	section string // the heading above it
	code    string
}

// goFence opens a Go block; a fence that is not closed is an error.
var goFence = regexp.MustCompile("^```(go|golang)\\s*$")

// markdownGoBlocks returns every ```go block of the Markdown files under
// root, but for those of tests' data and hidden directories.
func markdownGoBlocks(t *testing.T, root string) []goBlock {
	t.Helper()
	var blocks []goBlock
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(name, ".md") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		found, err := fileGoBlocks(path, rel)
		blocks = append(blocks, found...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return blocks
}

// fileGoBlocks returns the ```go blocks of one Markdown file.
func fileGoBlocks(path, rel string) ([]goBlock, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var blocks []goBlock
	var open *goBlock
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case open != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, *open)
			open = nil
		case open != nil:
			open.code += line + "\n"
		case goFence.MatchString(line):
			open = &goBlock{file: rel, line: n, section: section}
		case strings.HasPrefix(line, "#"):
			section = strings.TrimSpace(strings.TrimLeft(line, "#"))
		}
	}
	if open != nil {
		return nil, fmt.Errorf("%s:%d: the Go block does not end", rel, open.line)
	}
	return blocks, sc.Err()
}

// TestReadmeGoBlocks builds and vets every Go block of the READMEs (and of
// any other Markdown in the repository) in a module of its own, as a
// reader who copies it would, against this tree's modules. A block must
// be a whole file, package clause and imports included, so that it builds
// as shown.
func TestReadmeGoBlocks(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	blocks := markdownGoBlocks(t, root)
	perFile := map[string]int{}
	for _, b := range blocks {
		perFile[b.file]++
	}
	for _, file := range []string{"README.md", filepath.Join("redisstore", "README.md")} {
		if perFile[file] == 0 {
			t.Errorf("%s has no ```go block: was the fence changed?", file)
		}
	}
	var sum []byte
	for _, m := range []string{".", "redisstore"} {
		b, err := os.ReadFile(filepath.Join(root, m, "go.sum"))
		if err != nil {
			t.Fatal(err)
		}
		sum = append(sum, b...)
	}
	for _, b := range blocks {
		t.Run(fmt.Sprintf("%s:%d %s", b.file, b.line, b.section), func(t *testing.T) {
			t.Parallel()
			buildBlock(t, root, sum, b)
		})
	}
}

// buildBlock writes b into a module whose requirements on this
// repository's modules are replaced by the tree, then builds and vets it.
// Other requirements (go-redis) come through the module cache or proxy.
func buildBlock(t *testing.T, root string, sum []byte, b goBlock) {
	if !regexp.MustCompile(`(?m)^package \w+$`).MatchString(b.code) {
		t.Fatalf("%s:%d is not a whole Go file: give it its package clause and imports, so that it builds as shown", b.file, b.line)
	}
	// The library needs Go 1.25, the Redis store 1.26: a block that does
	// not import the store must build on the older. Requiring the store
	// brings go-redis at the version it was tested with, rather than the
	// newest.
	goVersion := "1.25.0"
	requires := "require github.com/ce967478/cookiesession v0.0.0\n"
	if strings.Contains(b.code, `"github.com/ce967478/cookiesession/redisstore"`) {
		goVersion = "1.26.0"
		requires += "require github.com/ce967478/cookiesession/redisstore v0.0.0\n"
	}
	goMod := "module readmeblock\n\ngo " + goVersion + "\n\n" + requires + "\n" +
		"replace github.com/ce967478/cookiesession => " + root + "\n\n" +
		"replace github.com/ce967478/cookiesession/redisstore => " + filepath.Join(root, "redisstore") + "\n"
	dir := t.TempDir()
	for name, content := range map[string][]byte{"main.go": []byte(b.code), "go.mod": []byte(goMod), "go.sum": sum} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), readmeBuildTimeout)
	defer cancel()
	for _, args := range [][]string{{"build", "-o", filepath.Join(dir, "block"), "."}, {"vet", "."}} {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = dir
		// -mod=mod: the go command adds the requirements the imports need.
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s of %s:%d: %v\n%s\nthe block:\n%s", strings.Join(args, " "), b.file, b.line, err, out, numbered(b.code))
		}
	}
}

// numbered returns code with line numbers, to read the compiler's errors.
func numbered(code string) string {
	var sb strings.Builder
	for i, line := range strings.Split(strings.TrimSuffix(code, "\n"), "\n") {
		fmt.Fprintf(&sb, "%4d  %s\n", i+1, line)
	}
	return sb.String()
}
