package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestTwoWay runs the command on a fixture with two pairs: a.go and b.go
// depend on each other through a method declared in b.go on a type
// declared in a.go, g1.go and g2.go through an instantiated generic's
// method and field. c.go uses both a.go and b.go and is in no pair. The
// fixture's test file and its file excluded by a build constraint would
// not type-check with the others: they must be left out.
func TestTwoWay(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{filepath.Join("testdata", "twoway")}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, &stderr)
	}
	want := `a.go and b.go depend on each other:
	a.go:11 uses method A.Double (b.go:7)
	b.go:7 uses type A (a.go:7)
g1.go and g2.go depend on each other:
	g1.go:8 uses method G.Get (g2.go:4)
	g2.go:4 uses type G (g1.go:5)
filedeps: 2 pairs of files depend on each other both ways
`
	if got := stdout.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}

// TestOneWay: files that depend on each other one way only, including
// through a method declared in another file than its type, make no pair.
func TestOneWay(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{filepath.Join("testdata", "oneway")}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, want 0; stdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}
	if got, want := stdout.String(), "filedeps: no two files depend on each other both ways\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
}

// TestDependencies checks every use the fixture's files make of each
// other, one-way ones included, so that what the pairs are built from is
// pinned too: methods and fields count in the file that declares them.
func TestDependencies(t *testing.T) {
	deps, err := fileDeps(filepath.Join("testdata", "twoway"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[edge]string{
		{"a.go", "b.go"}:   "method A.Double",
		{"b.go", "a.go"}:   "type A",
		{"c.go", "a.go"}:   "type A",
		{"c.go", "b.go"}:   "func B",
		{"g1.go", "g2.go"}: "method G.Get",
		{"g2.go", "g1.go"}: "type G",
	}
	if len(deps) != len(want) {
		t.Errorf("%d dependencies, want %d: %v", len(deps), len(want), deps)
	}
	for e, what := range want {
		if got, ok := deps[e]; !ok || got.what != what {
			t.Errorf("%s on %s: first use %q (found %t), want %q", e.from, e.to, got.what, ok, what)
		}
	}
}

// TestErrors: a directory without a package, or too many arguments, exit
// 2 with a message.
func TestErrors(t *testing.T) {
	for _, args := range [][]string{{t.TempDir()}, {"a", "b"}, {"-nosuchflag"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 2 || stderr.Len() == 0 || stdout.Len() != 0 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and a message on stderr", args, code, &stdout, &stderr)
		}
	}
	var stderr bytes.Buffer
	run([]string{t.TempDir()}, new(bytes.Buffer), &stderr)
	if !strings.HasPrefix(stderr.String(), "filedeps: ") {
		t.Errorf("stderr %q, want it to start with filedeps:", &stderr)
	}
}
