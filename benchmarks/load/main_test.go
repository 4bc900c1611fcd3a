package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
)

// TestRun drives every app briefly and checks the table: a row per app and
// route, no errors. It times nothing.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	o := options{clients: 2, duration: 100 * time.Millisecond, rounds: 2, maxRequests: 100_000}
	if err := run(&out, io.Discard, o); err != nil {
		t.Fatal(err)
	}
	table := out.String()
	for _, row := range []string{
		"| none | /read |", "| headers-only | /read |", "| cookiesession | /read |", "| gorilla/sessions | /read |",
		"| none | /write |", "| headers-only | /write |", "| cookiesession | /write |", "| gorilla/sessions | /write |",
	} {
		line := lineWith(table, row)
		if line == "" {
			t.Errorf("no row %q in\n%s", row, table)
			continue
		}
		if !strings.HasSuffix(line, "| 0 |") {
			t.Errorf("errors in %q", line)
		}
	}
	// The ratios are reported, never judged: every app but none has one,
	// and there is no target row.
	for _, app := range []string{"headers-only", "cookiesession", "gorilla/sessions"} {
		for _, route := range []string{"/read", "/write"} {
			cells := strings.Split(lineWith(table, "| "+app+" | "+route+" |"), "|")
			if len(cells) < 7 || strings.TrimSpace(cells[6]) == "-" {
				t.Errorf("%s %s: no ratio to none in %q", app, route, cells)
			}
		}
	}
	if strings.Contains(table, "target") || strings.ContainsAny(table, "✓✗") {
		t.Errorf("the load table judges against targets:\n%s", table)
	}
	if strings.Contains(table, "errors, the first") {
		t.Errorf("errors reported:\n%s", table)
	}
	// The cookie bytes are the seeded cookie's, the same on both routes,
	// however often the writing route toggled the theme. (gorilla's gob
	// of a map varies by a few bytes from one seeding to the next.)
	for _, app := range []string{"cookiesession", "headers-only"} {
		read := strings.Split(lineWith(table, "| "+app+" | /read |"), "|")
		write := strings.Split(lineWith(table, "| "+app+" | /write |"), "|")
		if len(read) < 9 || len(write) < 9 || read[8] != write[8] || strings.TrimSpace(read[8]) == "0" {
			t.Errorf("%s: cookie bytes %q on /read and %q on /write, want the same, not 0", app, read, write)
		}
	}
}

// TestPick runs only the apps and routes asked for, and refuses unknown ones.
func TestPick(t *testing.T) {
	var out bytes.Buffer
	o := options{clients: 1, duration: 50 * time.Millisecond, rounds: 1, maxRequests: 10_000,
		apps: []string{"none", "cookiesession"}, routes: []string{"/write"}}
	if err := run(&out, io.Discard, o); err != nil {
		t.Fatal(err)
	}
	for row, want := range map[string]bool{
		"| none | /write |": true, "| cookiesession | /write |": true,
		"| none | /read |": false, "| headers-only | /write |": false, "| gorilla/sessions | /write |": false,
	} {
		if got := lineWith(out.String(), row) != ""; got != want {
			t.Errorf("row %q present: %t, want %t, in\n%s", row, got, want, out.String())
		}
	}
	for _, bad := range []options{
		{clients: 1, duration: time.Millisecond, rounds: 1, maxRequests: 10, apps: []string{"nope"}},
		{clients: 1, duration: time.Millisecond, rounds: 1, maxRequests: 10, routes: []string{"/seed"}},
	} {
		if err := run(io.Discard, io.Discard, bad); err == nil {
			t.Errorf("run(%+v) did not fail", bad)
		}
	}
}

// TestRatioToNone pairs the rounds: a slow round for both apps (other work
// on the machine) does not move the ratio, and one odd round does not
// decide it.
func TestRatioToNone(t *testing.T) {
	none := result{rates: []float64{100, 50, 100, 100, 100}}
	app := result{rates: []float64{90, 45, 90, 10, 90}}
	if got, ok := ratioToNone(app, none); !ok || got != 0.9 {
		t.Errorf("ratioToNone = %v, %t; want 0.9", got, ok)
	}
	if _, ok := ratioToNone(app, result{}); ok {
		t.Error("a ratio without rounds of none")
	}
}

// TestDefaultMaxRequests: the default bound leaves room for 200,000
// requests a second, three times what the apps reach here, through every
// round of run.sh's settings, so that no app is stopped early and loses
// its last rounds.
func TestDefaultMaxRequests(t *testing.T) {
	for _, o := range []options{
		{warmup: time.Second, duration: 5 * time.Second, rounds: 20},  // the command's defaults
		{warmup: time.Second, duration: 30 * time.Second, rounds: 60}, // run.sh's
		{warmup: 0, duration: 100 * time.Millisecond, rounds: 1},
	} {
		planned := o.warmup + o.duration + time.Duration(o.rounds-1)*min(o.warmup, 100*time.Millisecond)
		if got, least := defaultMaxRequests(o), int64(200_000*planned.Seconds()); got < least {
			t.Errorf("defaultMaxRequests(%+v) = %d, want at least %d", o, got, least)
		}
	}
}

// TestMaxRequests checks that a run stops at -max-requests.
func TestMaxRequests(t *testing.T) {
	var out bytes.Buffer
	// A minute per run: a run that ignored the limit would take ten
	// minutes, and end in go test's timeout.
	o := options{clients: 2, duration: time.Minute, rounds: 1, maxRequests: 50}
	if err := run(&out, io.Discard, o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "stopped at -max-requests") {
		t.Errorf("no mention of -max-requests in\n%s", out.String())
	}
}

func lineWith(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}
