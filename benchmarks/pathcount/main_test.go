package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestScenarios checks, without coverage counters, that each request
// does what its name says on a fresh signed-in session: the read-only one
// reads the name and sets no cookie, the change sets the cookie, Destroy
// deletes it. A request that did something else would count another path.
func TestScenarios(t *testing.T) {
	m, err := newManager()
	if err != nil {
		t.Fatal(err)
	}
	a := &app{m: m}
	for _, sc := range scenarios {
		calls := 0
		if err := a.once(sc, func(bool) error { calls++; return nil }); err != nil {
			t.Error(err)
		}
		if calls != 2 {
			t.Errorf("%s: the counters' hook ran %d times, want twice", sc.name, calls)
		}
	}
}

// TestNotInstrumented: built without coverage counters (as by go test),
// the command says how to build it.
func TestNotInstrumented(t *testing.T) {
	err := run(new(bytes.Buffer), false, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "-coverpkg=") {
		t.Fatalf("run without counters: %v; want an error saying how to build", err)
	}
}

// covdataSample is go tool covdata func's output, abridged: the library's
// functions, one of the command's own, and the total.
const covdataSample = `github.com/ce967478/cookiesession/cachecontrol.go:13:			addVary				40.0%
github.com/ce967478/cookiesession/cachecontrol.go:27:			makePrivate			0.0%
github.com/ce967478/cookiesession/commit.go:44:				decide				37.5%
github.com/ce967478/cookiesession/keyring.go:240:			*Keyring.byID			100.0%
github.com/ce967478/cookiesession/benchmarks/pathcount/main.go:281:	parseFunc			0.0%
github.com/ce967478/cookiesession/benchmarks/pathcount/main.go:308:	report				12.5%
total									(statements)			15.7%
`

// TestParseFunc: the functions of the root package that ran, not the
// ones at 0.0%, nor the command's, nor the total.
func TestParseFunc(t *testing.T) {
	funcs, err := parseFunc([]byte(covdataSample))
	if err != nil {
		t.Fatal(err)
	}
	want := []function{{"cachecontrol.go", "addVary", "13"}, {"commit.go", "decide", "44"}, {"keyring.go", "*Keyring.byID", "240"}}
	if len(funcs) != len(want) {
		t.Fatalf("%d functions, want %d: %v", len(funcs), len(want), funcs)
	}
	for i := range want {
		if funcs[i] != want[i] {
			t.Errorf("function %d: %v, want %v", i, funcs[i], want[i])
		}
	}
	c := count{scenario: "x", funcs: funcs}
	if files := c.files(); len(files) != 3 {
		t.Errorf("files %v, want 3", files)
	}
	if _, err := parseFunc([]byte("total\t(statements)\t0.0%\n")); err == nil {
		t.Error("no function ran, and no error")
	}
	if _, err := parseFunc([]byte("garbage line here\n")); err == nil {
		t.Error("an unexpected line, and no error")
	}
}

// TestReport pins the table's shape.
func TestReport(t *testing.T) {
	funcs, err := parseFunc([]byte(covdataSample))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	report(&out, []count{{"read-only", funcs[:2]}, {"change", funcs}}, true)
	for _, want := range []string{
		"| request | functions | files |\n|---|---:|---:|\n| read-only | 2 | 2 |\n| change | 3 | 3 |\n",
		"change:\n  cachecontrol.go (1): addVary\n  commit.go (1): decide\n  keyring.go (1): *Keyring.byID\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in\n%s", want, &out)
		}
	}
}
