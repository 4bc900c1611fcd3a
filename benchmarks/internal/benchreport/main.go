// Command benchreport turns the output of the request benchmarks into
// Markdown, and splices a section into a README between markers. run.sh
// uses it:
//
//	benchreport tables bench.txt...        Markdown tables on stdout
//	benchreport toolchains go1.26.8=a.txt go1.27.4=b.txt...
//	                                       the typical session's figures,
//	                                       a column per Go release
//	benchreport splice README.md section   replace what lies between
//	                                       <!-- benchmarks:start --> and
//	                                       <!-- benchmarks:end --> with the
//	                                       section file; exit 3 if the
//	                                       markers are missing
//
// Each value is the median of the runs (go test -count) of its benchmark.
package main

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/ce967478/cookiesession/benchmarks/apps"
)

const (
	startMarker = "<!-- benchmarks:start -->"
	endMarker   = "<!-- benchmarks:end -->"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "tables":
		if len(os.Args) < 3 {
			usage()
		}
		var res results
		res, err = parseFiles(os.Args[2:])
		if err == nil {
			err = writeTables(os.Stdout, res)
		}
	case "toolchains":
		if len(os.Args) < 3 {
			usage()
		}
		err = toolchains(os.Stdout, os.Args[2:])
	case "splice":
		if len(os.Args) != 4 {
			usage()
		}
		err = splice(os.Args[2], os.Args[3])
		if errors.Is(err, errNoMarkers) {
			fmt.Fprintln(os.Stderr, "benchreport:", err)
			os.Exit(3)
		}
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: benchreport tables bench.txt... | benchreport toolchains release=bench.txt... | benchreport splice README.md section.md")
	os.Exit(2)
}

// results maps a benchmark name (without the -GOMAXPROCS suffix) to its
// values per unit, one per run.
type results struct {
	order  []string
	values map[string]map[string][]float64
}

func (r results) median(name, unit string) (float64, bool) {
	v := slices.Clone(r.values[name][unit])
	if len(v) == 0 {
		return 0, false
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2], true
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2, true
}

func (r results) runs(name string) int { return len(r.values[name]["ns/op"]) }

func parseFiles(paths []string) (results, error) {
	res := results{values: map[string]map[string][]float64{}}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return res, err
		}
		err = parse(f, &res)
		f.Close()
		if err != nil {
			return res, fmt.Errorf("%s: %w", p, err)
		}
	}
	if len(res.order) == 0 {
		return res, errors.New("no benchmark results found")
	}
	return res, nil
}

// parse reads benchmark lines: "BenchmarkX/y-2  N  v unit  v unit ...".
func parse(r io.Reader, res *results) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") || len(fields)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(fields[1]); err != nil {
			continue
		}
		name := strings.TrimPrefix(fields[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		m, ok := res.values[name]
		if !ok {
			m = map[string][]float64{}
			res.values[name] = m
			res.order = append(res.order, name)
		}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			m[fields[i+1]] = append(m[fields[i+1]], v)
		}
	}
	return sc.Err()
}

// figure is a row of the targets table: a figure of the cookiesession
// benchmarks, with issue 16's target for it if it has one (ok not nil).
// Targets are shown, never asserted.
type figure struct {
	what   string
	unit   string
	ok     func(float64) bool
	format func(float64) string
}

var figures = []figure{
	{"net cost at least 4x lower than gorilla/sessions'", "net-x-gorilla",
		func(v float64) bool { return v >= 4 }, fmtLower},
	{"cookie at most 55% of gorilla/sessions'", "cookie-x-gorilla",
		func(v float64) bool { return v <= 0.55 }, func(v float64) string { return fmt.Sprintf("%.0f%%", 100*v) }},
	{"at most 15 allocations more than the floor", "extra-allocs",
		func(v float64) bool { return v <= 15 }, func(v float64) string { return fmt.Sprintf("%+.0f", v) }},
	{"net cost (the app minus the same handler without a session)", "net-ns/op", nil, fmtNs},
	{"gorilla/sessions' net cost, in the same rounds", "gorilla-net-ns/op", nil, fmtNs},
	{"net cost over the floor's (no target)", "net-x-floor", nil, func(v float64) string { return fmt.Sprintf("%.2fx", v) }},
	{"cookie bytes over the floor's (no target)", "cookie-extra-bytes", nil, func(v float64) string { return fmt.Sprintf("%+.0f B", v) }},
}

// fmtLower writes a ratio of gorilla's net cost to ours.
func fmtLower(v float64) string { return fmt.Sprintf("%.1fx lower", v) }

// describe says what each benchmark is, for the table.
var describe = map[string]string{
	"cookiesession":     "cookiesession middleware, its defaults but the name (" + apps.CookieName + ", as every app's)",
	"gorilla":           "gorilla/sessions CookieStore, its defaults (gob); a Values key per field",
	"securecookie-json": "gorilla/securecookie, JSON, the session as one value (encoding/json up to Go 1.26 cannot encode CookieStore's Values)",
	"none":              "no session",
	"floor":             "floor: JSON + XChaCha20-Poly1305 + base64url only, and the serialise-and-compare change check",
}

// column is one cookiesession benchmark in the targets table.
type column struct {
	bench, label string
}

// columns are the cookiesession benchmarks: the changing request and the
// read-only one.
var columns = []column{
	{"Write/cookiesession", "changing"},
	{"Read/cookiesession", "read-only"},
}

func writeTables(w io.Writer, res results) error {
	// The targets, and the figures without one, for the cookiesession
	// benchmarks.
	head, rule := []string{"target (issue 16)"}, []string{"---"}
	for _, c := range columns {
		head, rule = append(head, c.label), append(rule, "---:")
	}
	fmt.Fprintf(w, "| %s |\n|%s|\n", strings.Join(head, " | "), strings.Join(rule, "|"))
	for _, f := range figures {
		cells := []string{f.what}
		found := false
		for _, c := range columns {
			v, ok := res.median(c.bench, f.unit)
			if !ok {
				cells = append(cells, "n/a")
				continue
			}
			found = true
			cell := f.format(v)
			if f.ok != nil {
				cell += " " + mark(f.ok(v))
			}
			cells = append(cells, cell)
		}
		if found || f.ok != nil {
			fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
		}
	}
	if v, ok := res.median("Untouched", "net-ns/op"); ok {
		a, _ := res.median("Untouched", "extra-allocs")
		fmt.Fprintf(w, "\nA request that passes through the middleware but never asks for its session pays %s and %.0f allocations.\n", fmtNs(v), a)
	}
	writeCalls(w, res)
	fmt.Fprintln(w)
	if writeSizes(w, res) {
		fmt.Fprintln(w)
	}

	// Every benchmark.
	fmt.Fprintln(w, "### Every request benchmark")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| request | what | ns/op | B/op | allocs/op | cookie bytes |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|")
	runs := 0
	for _, name := range res.order {
		ns, _ := res.median(name, "ns/op")
		bytes, _ := res.median(name, "B/op")
		allocs, _ := res.median(name, "allocs/op")
		cookie, _ := res.median(name, "cookie-bytes")
		what := describeBench(name)
		cookieCell := "-"
		if cookie > 0 {
			cookieCell = fmt.Sprintf("%.0f", cookie)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %.0f | %.0f | %s |\n", name, what, fmtInt(ns), bytes, allocs, cookieCell)
		runs = max(runs, res.runs(name))
	}
	if runs == 1 {
		fmt.Fprintln(w, "\nOne run each.")
	} else {
		fmt.Fprintf(w, "\nMedians of %d runs each.\n", runs)
	}
	return nil
}

// toolchainFigures are the rows of the table of Go releases, for each of
// the two requests (columns).
var toolchainFigures = []figure{
	{"net cost", "net-ns/op", nil, fmtNs},
	{"gorilla/sessions' net cost, in the same rounds", "gorilla-net-ns/op", nil, fmtNs},
	{"net cost vs gorilla/sessions'", "net-x-gorilla", nil, fmtVs},
	{"net cost over the floor's", "net-x-floor", nil, func(v float64) string { return fmt.Sprintf("%.2fx", v) }},
	{"allocations more than the floor", "extra-allocs", nil, func(v float64) string { return fmt.Sprintf("%+.0f", v) }},
}

// toolchains writes the typical session's figures side by side, a column
// per Go release, from args of the form release=file (the output of the
// request benchmarks run on that release).
func toolchains(w io.Writer, args []string) error {
	var labels []string
	var runs []results
	for _, a := range args {
		label, path, ok := strings.Cut(a, "=")
		if !ok || label == "" || path == "" {
			return fmt.Errorf("%q: want release=file", a)
		}
		res, err := parseFiles([]string{path})
		if err != nil {
			return err
		}
		labels, runs = append(labels, label), append(runs, res)
	}
	writeToolchains(w, labels, runs)
	return nil
}

// writeToolchains writes the table of toolchains: for each request and
// figure a row, for each release a column.
func writeToolchains(w io.Writer, labels []string, runs []results) {
	fmt.Fprintf(w, "| typical session | %s |\n|---|%s\n", strings.Join(labels, " | "), strings.Repeat("---:|", len(labels)))
	for _, c := range columns {
		for _, f := range toolchainFigures {
			cells := []string{c.label + ": " + f.what}
			for _, res := range runs {
				cell := "n/a"
				if v, ok := res.median(c.bench, f.unit); ok {
					cell = f.format(v)
				}
				cells = append(cells, cell)
			}
			fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
		}
	}
}

// writeCalls says how often the cookiesession requests called the
// serializer, if the benchmarks counted it.
func writeCalls(w io.Writer, res results) {
	var parts []string
	for _, c := range columns {
		u, ok1 := res.median(c.bench, "json-unmarshals/op")
		m, ok2 := res.median(c.bench, "json-marshals/op")
		if ok1 && ok2 {
			parts = append(parts, fmt.Sprintf("the %s request %s and %s", c.label, times("Unmarshal", u), times("Marshal", m)))
		}
	}
	if len(parts) > 0 {
		fmt.Fprintf(w, "\nPer request, cookiesession called its serializer (encoding/json): %s.\n", strings.Join(parts, "; "))
	}
}

// times writes "Marshal once" or "Marshal 2 times".
func times(what string, n float64) string {
	if n == 1 {
		return what + " once"
	}
	return fmt.Sprintf("%s %g times", what, n)
}

// sizeRow is a row of the sizes table: a size's benchmarks, or the typical
// session's.
type sizeRow struct {
	label       string
	read, write string // the cookiesession benchmarks
	raised      int    // gorilla's raised limit, 0 if it has its defaults
	tokens      bool   // of the token series, after the cart series
}

// sizeRows are the rows of the sizes table: the cart series with the
// typical session's benchmarks among apps.Sizes', then the token series,
// each by the size of the data.
func sizeRows(res results) []sizeRow {
	var rows []sizeRow
	for _, z := range apps.Sizes {
		rows = append(rows, sizeRow{
			label: fmt.Sprintf("%s (%s)", z.Name, z.About),
			read:  "SizeRead/" + z.Name + "/cookiesession", write: "SizeWrite/" + z.Name + "/cookiesession",
			raised: z.GorillaMaxLength, tokens: z.Tokens != 0,
		})
	}
	rows = append(rows, sizeRow{label: "typical (the session above)", read: "Read/cookiesession", write: "Write/cookiesession"})
	bytes := func(r sizeRow) float64 {
		v, ok := res.median(r.read, "data-bytes")
		if !ok {
			v, _ = res.median(r.write, "data-bytes")
		}
		return v
	}
	slices.SortStableFunc(rows, func(a, b sizeRow) int {
		if a.tokens != b.tokens {
			return cmp.Compare(btoi(a.tokens), btoi(b.tokens))
		}
		return cmp.Compare(bytes(a), bytes(b))
	})
	return slices.DeleteFunc(rows, func(r sizeRow) bool {
		_, ok1 := res.median(r.read, "data-bytes")
		_, ok2 := res.median(r.write, "data-bytes")
		return !ok1 && !ok2
	})
}

// btoi is 1 for true, 0 for false.
func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// writeSizes writes the table of how the cost grows with the session, and
// reports whether there was one.
func writeSizes(w io.Writer, res results) bool {
	rows := sizeRows(res)
	if !slices.ContainsFunc(rows, func(r sizeRow) bool { return strings.HasPrefix(r.read, "Size") }) {
		return false
	}
	fmt.Fprintln(w, "### How the cost grows with the session")
	fmt.Fprintln(w)
	fmt.Fprintln(w, sizesLegend)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| session | JSON | cookiesession's cookie | gorilla's cookie | read-only: net cost | gorilla's | vs gorilla | changing: net cost | gorilla's | vs gorilla |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	var raised []string
	for _, r := range rows {
		either := func(unit string) (float64, bool) {
			if v, ok := res.median(r.write, unit); ok {
				return v, true
			}
			return res.median(r.read, unit)
		}
		cell := func(bench, unit string, format func(float64) string) string {
			if v, ok := res.median(bench, unit); ok {
				return format(v)
			}
			return "n/a"
		}
		data, _ := either("data-bytes")
		ours := "n/a"
		if v, ok := either("cookie-bytes"); ok {
			ours = fmt.Sprintf("%s B", fmtInt(v))
			if n, ok := either("cookies"); ok && n > 1 {
				ours += fmt.Sprintf(", %.0f cookies", n)
			}
		}
		gorilla := "n/a"
		if v, ok := either("gorilla-cookie-bytes"); ok {
			gorilla = fmt.Sprintf("%s B", fmtInt(v))
		}
		if r.raised != 0 {
			gorilla += " †"
			raised = append(raised, fmtInt(float64(r.raised)))
		}
		fmt.Fprintf(w, "| %s | %s B | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.label, fmtInt(data), ours, gorilla,
			cell(r.read, "net-ns/op", fmtNs), cell(r.read, "gorilla-net-ns/op", fmtNs), cell(r.read, "net-x-gorilla", fmtVs),
			cell(r.write, "net-ns/op", fmtNs), cell(r.write, "gorilla-net-ns/op", fmtNs), cell(r.write, "net-x-gorilla", fmtVs))
	}
	if len(raised) > 0 {
		fmt.Fprintf(w, "\n† gorilla/sessions' CookieStore refuses this session with its defaults (securecookie: \"the value is too long\", "+
			"over 4,096 bytes); it was measured with its codecs' limit raised to %s bytes, to show what the work would cost. "+
			"A browser would not keep the cookie: a name and value over 4,096 bytes is dropped.\n", raised[0])
	}
	return true
}

// sizesLegend introduces the sizes table.
const sizesLegend = `The same two requests with sessions of other sizes: the typical session's shape, without
roles or cart for the smallest, with a longer cart for the others. The cart is where JSON is at its
most verbose next to gob: JSON writes each line's field names, gob once per type. The token series,
after the cart's, is shaped like the large sessions applications keep: a visitor's session with an OpenID
Connect provider's ID, access and refresh tokens (JWTs) and a few claims, mostly base64url that gob
cannot shorten either. 6 KB of such JSON would be about 8.2 KB sealed, past the largest cap
cookiesession accepts (7,903 bytes, for the next request's Cookie header to stay within 8 KB), so
the series' largest session is the most that fits that cap, measured with WithMaxSize(7,903); with
the default cap, about 5.3 KB fits. Each row's net costs and ratio come from the interleaved rounds
of its cookiesession benchmark; the typical row repeats the figures above. No targets here: the
table shows how the ratio to gorilla moves as the session grows.`

// fmtVs writes the ratio of gorilla's net cost to ours as how much lower
// ours is, or how much higher if it is not lower.
func fmtVs(v float64) string {
	if v >= 1 {
		return fmtLower(v)
	}
	if v <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1fx higher", 1/v)
}

// describeBench says what the benchmark called name is.
func describeBench(name string) string {
	if name == "Untouched" {
		return "cookiesession middleware, session never asked for"
	}
	parts := strings.Split(name, "/")
	what := describe[parts[len(parts)-1]]
	if len(parts) != 3 {
		return what
	}
	for _, z := range apps.Sizes {
		switch {
		case z.Name != parts[1]:
		case parts[2] == "gorilla" && z.GorillaMaxLength != 0:
			what += fmt.Sprintf(", its codecs' limit raised to %s bytes", fmtInt(float64(z.GorillaMaxLength)))
		case parts[2] == apps.CookiesessionName && z.MaxSize != 0:
			what += fmt.Sprintf(", and the cap: WithMaxSize(%s)", fmtInt(float64(z.MaxSize)))
		}
	}
	return what
}

// mark is ✓ for a target met, ✗ for one missed.
func mark(met bool) string {
	if met {
		return "✓"
	}
	return "✗"
}

func fmtNs(v float64) string {
	if math.Abs(v) >= 1000 {
		return fmt.Sprintf("%.1f µs", v/1000)
	}
	return fmt.Sprintf("%.0f ns", v)
}

// fmtInt writes v rounded, with thin digit grouping for readability.
func fmtInt(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

var errNoMarkers = errors.New("the README has no " + startMarker + " ... " + endMarker + " markers")

// splice replaces the lines between the markers of the file at path with
// the section file's content, keeping the markers.
func splice(path, sectionPath string) error {
	readme, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	section, err := os.ReadFile(sectionPath)
	if err != nil {
		return err
	}
	out, err := spliceText(string(readme), string(section))
	if err != nil {
		return err
	}
	if out == string(readme) {
		return nil
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp := path + ".benchreport.tmp"
	if err := os.WriteFile(tmp, []byte(out), info.Mode().Perm()); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func spliceText(readme, section string) (string, error) {
	start := strings.Index(readme, startMarker)
	if start < 0 {
		return "", errNoMarkers
	}
	rest := readme[start+len(startMarker):]
	end := strings.Index(rest, endMarker)
	if end < 0 {
		return "", errNoMarkers
	}
	if strings.Contains(rest[end+len(endMarker):], startMarker) {
		return "", errors.New("the README has more than one " + startMarker)
	}
	section = strings.Trim(section, "\n")
	return readme[:start+len(startMarker)] + "\n" + section + "\n" + rest[end:], nil
}
