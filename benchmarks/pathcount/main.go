// Command pathcount counts the functions of cookiesession's root package,
// and the files they are in, that one request passes through: a
// read-only request, a change and a Destroy, each on a signed-in session
// of a typical app (a struct session with a subject, so revocation is on;
// every other option at its default). It is issue 24's measure of how
// much of the library a reader must follow to understand a request.
//
// It must be built with coverage counters for the library and for itself
// (without them its own package does not register the counters' meta-data,
// and there is nothing to write), as benchmarks/pathcount.sh does:
//
//	go build -cover -covermode=atomic \
//		-coverpkg=github.com/ce967478/cookiesession,github.com/ce967478/cookiesession/benchmarks/pathcount \
//		./pathcount
//
// For each request it first serves the same request once (so that what is
// done once per Manager or per process is not counted), clears the
// counters, serves the request on a fresh signed-in session, writes the
// counters, and asks `go tool covdata func` which functions ran at least
// one statement; only the root package's count. covdata counts a function
// literal's statements in the function that holds it: a closure New set up
// that runs on the request counts as that function. It prints a Markdown
// table; -v lists the functions, by file.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/coverage"
	"slices"
	"strings"

	"github.com/ce967478/cookiesession"
)

// libPath is the library's import path: covdata names its files with it.
const libPath = "github.com/ce967478/cookiesession"

func main() {
	verbose := flag.Bool("v", false, "list the functions each request passes through, by file")
	keep := flag.String("dir", "", "write the counters under this directory and keep them (default: a temporary directory, removed)")
	flag.Parse()
	if err := run(os.Stdout, *verbose, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "pathcount:", err)
		os.Exit(1)
	}
}

// Account is the session of the typical signed-in app the requests run in.
type Account struct {
	UserID string
	Name   string
	Theme  string
}

// signedIn is the session every measured request starts from.
var signedIn = Account{UserID: "u-4711", Name: "Ada Lovelace", Theme: "dark"}

// newManager returns the Manager of the typical app: a struct session
// with a subject (so that Destroy revokes), every other option at its
// default.
func newManager() (*cookiesession.Manager[Account], error) {
	keys, err := cookiesession.NewKeyring(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		return nil, err
	}
	return cookiesession.New[Account](keys, cookiesession.WithSubject(func(a Account) string { return a.UserID }))
}

// scenario is a request whose path is counted.
type scenario struct {
	name string
	// handle is the application's handler, inside m.Handler.
	handle func(m *cookiesession.Manager[Account], w http.ResponseWriter, r *http.Request)
	// check says what is wrong with the response, if anything: a request
	// that did not do what its name says would count the wrong path.
	check func(w *httptest.ResponseRecorder) error
}

// scenarios are the three requests of issue 24, in the order they are
// counted.
var scenarios = []scenario{
	{
		name: "read-only",
		handle: func(m *cookiesession.Manager[Account], w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, m.Get(r).Data.Name)
		},
		check: func(w *httptest.ResponseRecorder) error {
			if w.Body.String() != signedIn.Name || len(w.Result().Cookies()) != 0 {
				return fmt.Errorf("body %q and %d cookies set; want the name and none", w.Body, len(w.Result().Cookies()))
			}
			return nil
		},
	},
	{
		name: "change",
		handle: func(m *cookiesession.Manager[Account], w http.ResponseWriter, r *http.Request) {
			s := m.Get(r)
			s.Data.Theme = "light"
			_, _ = io.WriteString(w, "ok")
		},
		check: func(w *httptest.ResponseRecorder) error { return wantCookie(w, true) },
	},
	{
		name: "Destroy",
		handle: func(m *cookiesession.Manager[Account], w http.ResponseWriter, r *http.Request) {
			m.Get(r).Destroy()
			_, _ = io.WriteString(w, "ok")
		},
		check: func(w *httptest.ResponseRecorder) error { return wantCookie(w, false) },
	},
}

// wantCookie checks that the response is a 200 that sets the session
// cookie to a value (set) or deletes it (!set).
func wantCookie(w *httptest.ResponseRecorder, set bool) error {
	cookies := w.Result().Cookies()
	if w.Code != http.StatusOK || len(cookies) != 1 || (cookies[0].Value != "") != set || (cookies[0].MaxAge < 0) == set {
		return fmt.Errorf("status %d, Set-Cookie %q; want 200 and one cookie, set %t", w.Code, w.Header()["Set-Cookie"], set)
	}
	return nil
}

// app is the typical app, on its Manager.
type app struct {
	m *cookiesession.Manager[Account]
}

// signIn returns the Cookie header of a fresh signed-in session.
func (a *app) signIn() (string, error) {
	w := a.serve("", func(m *cookiesession.Manager[Account], w http.ResponseWriter, r *http.Request) {
		m.Get(r).Data = signedIn
	})
	if err := wantCookie(w, true); err != nil {
		return "", fmt.Errorf("signing in: %w", err)
	}
	var pairs []string
	for _, c := range w.Result().Cookies() {
		pairs = append(pairs, c.Name+"="+c.Value)
	}
	return strings.Join(pairs, "; "), nil
}

// serve runs one request with the Cookie header cookie through handle,
// inside the middleware.
func (a *app) serve(cookie string, handle func(*cookiesession.Manager[Account], http.ResponseWriter, *http.Request)) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "https://example.com/", nil)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	w := httptest.NewRecorder()
	a.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handle(a.m, w, r) })).ServeHTTP(w, r)
	return w
}

// once signs in and runs sc's request on the new session; counted, if not
// nil, is called around the request alone: before it and after it.
func (a *app) once(sc scenario, around func(before bool) error) error {
	cookie, err := a.signIn()
	if err != nil {
		return err
	}
	if around != nil {
		if err := around(true); err != nil {
			return err
		}
	}
	w := a.serve(cookie, sc.handle)
	if around != nil {
		if err := around(false); err != nil {
			return err
		}
	}
	if err := sc.check(w); err != nil {
		return fmt.Errorf("%s: %w", sc.name, err)
	}
	return nil
}

// count is what one request passed through.
type count struct {
	scenario string
	funcs    []function
}

// files returns the distinct files of c's functions, sorted.
func (c count) files() []string {
	var files []string
	for _, f := range c.funcs {
		files = append(files, f.file)
	}
	slices.Sort(files)
	return slices.Compact(files)
}

func run(out io.Writer, verbose bool, keep string) error {
	dir := keep
	if dir == "" {
		tmp, err := os.MkdirTemp("", "pathcount")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	// Reading the meta-data first is also what tells the runtime the
	// counters' mode, without which ClearCounters refuses to run.
	if err := coverage.WriteMeta(io.Discard); err != nil {
		return fmt.Errorf("%w: build with -cover -covermode=atomic -coverpkg=%s,<this command> (see benchmarks/pathcount.sh)", err, libPath)
	}
	m, err := newManager()
	if err != nil {
		return err
	}
	a := &app{m: m}
	var counts []count
	for i, sc := range scenarios {
		// The same request once, uncounted: first-use work is not a path.
		if err := a.once(sc, nil); err != nil {
			return err
		}
		scDir := filepath.Join(dir, fmt.Sprintf("%d-%s", i, sc.name))
		if err := a.once(sc, counted(scDir)); err != nil {
			return err
		}
		funcs, err := covered(scDir)
		if err != nil {
			return err
		}
		counts = append(counts, count{scenario: sc.name, funcs: funcs})
	}
	report(out, counts, verbose)
	return nil
}

// counted returns the function that clears the counters before a request
// and writes them, with the meta-data covdata needs, into dir after it.
func counted(dir string) func(before bool) error {
	return func(before bool) error {
		if before {
			return coverage.ClearCounters()
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := coverage.WriteMetaDir(dir); err != nil {
			return err
		}
		return coverage.WriteCountersDir(dir)
	}
}

// function is a function of the library that ran.
type function struct {
	file, name string // the file's base name, and the function as covdata names it
	line       string
}

// covered runs go tool covdata func on the counters in dir and returns the
// library's functions with at least one statement run.
func covered(dir string) ([]function, error) {
	cmd := exec.Command("go", "tool", "covdata", "func", "-i="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go tool covdata func: %w\n%s", err, stderr.Bytes())
	}
	return parseFunc(out)
}

// parseFunc reads the output of go tool covdata func, lines such as
//
//	github.com/ce967478/cookiesession/manager.go:181:	Load	100.0%
//
// and returns the functions of the library's root package whose coverage
// is not 0.0%, in the output's order.
func parseFunc(out []byte) ([]function, error) {
	var funcs []function
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || fields[0] == "total" || fields[0] == "total:" {
			continue
		}
		path, line, ok := strings.Cut(strings.TrimSuffix(fields[0], ":"), ".go:")
		if !ok {
			return nil, fmt.Errorf("covdata func: unexpected line %q", sc.Text())
		}
		if filepath.Dir(path) != libPath || fields[len(fields)-1] == "0.0%" {
			continue
		}
		funcs = append(funcs, function{file: filepath.Base(path) + ".go", name: strings.Join(fields[1:len(fields)-1], " "), line: line})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if funcs == nil {
		return nil, errors.New("covdata func: no function of the library ran")
	}
	return funcs, nil
}

// report writes the table, and with verbose the functions by file.
func report(w io.Writer, counts []count, verbose bool) {
	fmt.Fprintln(w, "| request | functions | files |")
	fmt.Fprintln(w, "|---|---:|---:|")
	for _, c := range counts {
		fmt.Fprintf(w, "| %s | %d | %d |\n", c.scenario, len(c.funcs), len(c.files()))
	}
	if !verbose {
		return
	}
	for _, c := range counts {
		fmt.Fprintf(w, "\n%s:\n", c.scenario)
		for _, file := range c.files() {
			var names []string
			for _, f := range c.funcs {
				if f.file == file {
					names = append(names, f.name)
				}
			}
			fmt.Fprintf(w, "  %s (%d): %s\n", file, len(names), strings.Join(names, ", "))
		}
	}
}
