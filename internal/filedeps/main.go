// Command filedeps reports the files of a Go package that depend on each
// other both ways: file A uses an identifier declared in file B (a type, a
// function, a method, a field, a variable or a constant), and B uses one
// declared in A. A method or a field counts as declared in the file that
// holds its declaration, not in the file of its type. Test files are left
// out.
//
// Such a pair is two files that cannot be read, or changed, one without
// the other: DESIGN.md asks that the root package have none (make
// filedeps).
//
//	go run ./internal/filedeps [dir]
//
// dir is the package's directory, "." by default. For each pair it prints
// one identifier used each way, with where it is used and declared. It
// exits 0 when there is no pair, 1 when there is one or more, 2 when the
// package cannot be loaded. It needs the go command on PATH: the package's
// imports are read from the export data `go list -export` gives, so only
// the standard library is needed to build it.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/build"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command with its arguments and outputs; it returns the exit
// status.
func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("filedeps", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: filedeps [dir]\n\nfiledeps reports the non-test files of the Go package in dir (default .)\nthat depend on each other both ways; it exits 1 if there are any.")
	}
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if flags.NArg() > 1 {
		flags.Usage()
		return 2
	}
	dir := "."
	if flags.NArg() == 1 {
		dir = flags.Arg(0)
	}
	pairs, err := check(dir)
	if err != nil {
		fmt.Fprintln(stderr, "filedeps:", err)
		return 2
	}
	report(stdout, pairs)
	if len(pairs) > 0 {
		return 1
	}
	return 0
}

// use is one identifier a file uses that another file of the package
// declares.
type use struct {
	what string         // the object, described: "type Manager", "method Manager.Load"
	at   token.Position // where it is used
	decl token.Position // where it is declared
}

// edge is a dependency of one file on another, by base name.
type edge struct{ from, to string }

// pair is two files that depend on each other: a uses ab from b, and b
// uses ba from a. a sorts before b.
type pair struct {
	a, b   string
	ab, ba use
}

// check loads the package in dir and returns its two-way pairs, sorted.
func check(dir string) ([]pair, error) {
	deps, err := fileDeps(dir)
	if err != nil {
		return nil, err
	}
	return twoWay(deps), nil
}

// fileDeps loads the package in dir and returns its files' dependencies
// on each other (see dependencies).
func fileDeps(dir string) (map[edge]use, error) {
	fset := token.NewFileSet()
	files, err := parseDir(fset, dir)
	if err != nil {
		return nil, err
	}
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}}
	imp, err := exportImporter(fset, dir)
	if err != nil {
		return nil, err
	}
	conf := types.Config{Importer: imp}
	pkg, err := conf.Check(files[0].Name.Name, fset, files, info)
	if err != nil {
		return nil, fmt.Errorf("type-checking %s: %w", dir, err)
	}
	return dependencies(fset, pkg, info), nil
}

// parseDir parses the package's files in dir that the go command would
// build (build constraints applied), test files left out.
func parseDir(fset *token.FileSet, dir string) ([]*ast.File, error) {
	bp, err := build.Default.ImportDir(dir, 0)
	if err != nil {
		return nil, err
	}
	if len(bp.CgoFiles) > 0 {
		return nil, fmt.Errorf("%s: cgo files are not supported (%s)", dir, strings.Join(bp.CgoFiles, ", "))
	}
	var files []*ast.File
	for _, name := range bp.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

// exportImporter returns an importer that reads each dependency of the
// package in dir from the export data the go command builds for it.
func exportImporter(fset *token.FileSet, dir string) (types.Importer, error) {
	cmd := exec.Command("go", "list", "-export", "-deps", "-f", "{{if .Export}}{{.ImportPath}}={{.Export}}{{end}}", ".")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -export in %s: %w\n%s", dir, err, stderr.Bytes())
	}
	exports := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if path, file, ok := strings.Cut(sc.Text(), "="); ok {
			exports[path] = file
		}
	}
	lookup := func(path string) (io.ReadCloser, error) {
		file, ok := exports[path]
		if !ok {
			return nil, errors.New("no export data for " + path)
		}
		return os.Open(file)
	}
	return importer.ForCompiler(fset, "gc", lookup), nil
}

// dependencies returns, for each file that uses an identifier declared in
// another file of pkg, the first such use (in the using file's order).
func dependencies(fset *token.FileSet, pkg *types.Package, info *types.Info) map[edge]use {
	deps := map[edge]use{}
	for id, obj := range info.Uses {
		obj = origin(obj)
		if obj.Pkg() != pkg || !obj.Pos().IsValid() {
			continue
		}
		at, decl := fset.Position(id.Pos()), fset.Position(obj.Pos())
		e := edge{filepath.Base(at.Filename), filepath.Base(decl.Filename)}
		if e.from == e.to {
			continue
		}
		if old, ok := deps[e]; !ok || before(at, old.at) {
			deps[e] = use{what: describe(obj), at: at, decl: decl}
		}
	}
	return deps
}

// origin returns the generic object an instantiated method or field comes
// from, which is the one declared in the source.
func origin(obj types.Object) types.Object {
	switch o := obj.(type) {
	case *types.Func:
		return o.Origin()
	case *types.Var:
		return o.Origin()
	}
	return obj
}

// before reports whether a comes before b in the same file.
func before(a, b token.Position) bool {
	return a.Line < b.Line || a.Line == b.Line && a.Column < b.Column
}

// describe names an object with its kind: "type Manager", "func New",
// "method Manager.Load", "field data".
func describe(obj types.Object) string {
	switch o := obj.(type) {
	case *types.TypeName:
		return "type " + o.Name()
	case *types.Const:
		return "const " + o.Name()
	case *types.Func:
		if recv := o.Signature().Recv(); recv != nil {
			return "method " + typeName(recv.Type()) + "." + o.Name()
		}
		return "func " + o.Name()
	case *types.Var:
		if o.IsField() {
			return "field " + o.Name()
		}
		return "var " + o.Name()
	}
	return obj.Name()
}

// typeName is the name of a method's receiver type, without pointer or
// type arguments.
func typeName(t types.Type) string {
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	switch n := t.(type) {
	case *types.Named:
		return n.Obj().Name()
	case *types.Alias:
		return n.Obj().Name()
	}
	return t.String() // an interface's method: the interface itself
}

// twoWay returns the pairs of files with an edge each way, sorted by their
// names.
func twoWay(deps map[edge]use) []pair {
	var pairs []pair
	for e, ab := range deps {
		if e.from >= e.to {
			continue
		}
		if ba, ok := deps[edge{e.to, e.from}]; ok {
			pairs = append(pairs, pair{a: e.from, b: e.to, ab: ab, ba: ba})
		}
	}
	slices.SortFunc(pairs, func(x, y pair) int {
		return strings.Compare(x.a+"\x00"+x.b, y.a+"\x00"+y.b)
	})
	return pairs
}

// report writes the pairs, one identifier each way, and a count.
func report(w io.Writer, pairs []pair) {
	for _, p := range pairs {
		fmt.Fprintf(w, "%s and %s depend on each other:\n", p.a, p.b)
		for _, u := range []use{p.ab, p.ba} {
			fmt.Fprintf(w, "\t%s:%d uses %s (%s:%d)\n",
				filepath.Base(u.at.Filename), u.at.Line, u.what, filepath.Base(u.decl.Filename), u.decl.Line)
		}
	}
	switch len(pairs) {
	case 0:
		fmt.Fprintln(w, "filedeps: no two files depend on each other both ways")
	case 1:
		fmt.Fprintln(w, "filedeps: 1 pair of files depends on each other both ways")
	default:
		fmt.Fprintf(w, "filedeps: %d pairs of files depend on each other both ways\n", len(pairs))
	}
}
