package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkWrite/cookiesession-2   	   33400	     11573 ns/op	       342.0 cookie-bytes	        16.00 cookie-extra-bytes	         0.4858 cookie-x-gorilla	        10.00 extra-allocs	     55000 gorilla-net-ns/op	     12014 net-ns/op	         1.521 net-x-floor	         4.649 net-x-gorilla	    4328 B/op	      46 allocs/op
BenchmarkWrite/cookiesession-2   	   33400	     11000 ns/op	       342.0 cookie-bytes	        16.00 cookie-extra-bytes	         0.4858 cookie-x-gorilla	        16.00 extra-allocs	     50000 gorilla-net-ns/op	     10000 net-ns/op	         1.200 net-x-floor	         3.900 net-x-gorilla	    4328 B/op	      46 allocs/op
BenchmarkWrite/cookiesession-2   	   33400	     12000 ns/op	       342.0 cookie-bytes	        16.00 cookie-extra-bytes	         0.4858 cookie-x-gorilla	        16.00 extra-allocs	     45000 gorilla-net-ns/op	     11000 net-ns/op	         1.100 net-x-floor	         4.300 net-x-gorilla	    4328 B/op	      46 allocs/op
BenchmarkRead/cookiesession-2   	   40000	      9000 ns/op	       340.0 cookie-bytes	        16.00 cookie-extra-bytes	         0.5600 cookie-x-gorilla	        12.00 extra-allocs	     33000 gorilla-net-ns/op	      8000 net-ns/op	         1.300 net-x-floor	         3.500 net-x-gorilla	    3000 B/op	      30 allocs/op
BenchmarkWrite/none-2            	  295101	      1521 ns/op	         0 cookie-bytes	    1016 B/op	      10 allocs/op
BenchmarkUntouched-2            	  295101	      1800 ns/op	       250.0 net-ns/op	         2.000 extra-allocs	    1100 B/op	      12 allocs/op
PASS
`

func TestTables(t *testing.T) {
	res := results{values: map[string]map[string][]float64{}}
	if err := parse(strings.NewReader(sample), &res); err != nil {
		t.Fatal(err)
	}
	if got, _ := res.median("Write/cookiesession", "ns/op"); got != 11573 {
		t.Errorf("median ns/op = %v", got)
	}
	var out bytes.Buffer
	if err := writeTables(&out, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| target (issue 16) | changing | read-only |",
		// A target met on one request and missed on the other.
		"| net cost at least 4x lower than gorilla/sessions' | 4.3x lower ✓ | 3.5x lower ✗ |",
		"| cookie at most 55% of gorilla/sessions' | 49% ✓ | 56% ✗ |",
		// 16 is one over the target, 12 within it.
		"| at most 15 allocations more than the floor | +16 ✗ | +12 ✓ |",
		// Figures without a target carry no mark.
		"| net cost (the app minus the same handler without a session) | 11.0 µs | 8.0 µs |",
		"| gorilla/sessions' net cost, in the same rounds | 50.0 µs | 33.0 µs |",
		"| net cost over the floor's (no target) | 1.20x | 1.30x |",
		"| cookie bytes over the floor's (no target) | +16 B | +16 B |",
		"| Write/none | no session | 1,521 | 1016 | 10 | - |",
		"| Write/cookiesession | cookiesession middleware, its defaults but the name (session, as every app's) | 11,573 | 4328 | 46 | 342 |",
		"Medians of 3 runs each.",
		"pays 250 ns and 2 allocations.",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in\n%s", want, out.String())
		}
	}
	// The old targets (issue #6) are gone.
	for _, gone := range []string{"1.25x", "at most 8 allocations", "40 bytes"} {
		if strings.Contains(out.String(), gone) {
			t.Errorf("%q still in\n%s", gone, out.String())
		}
	}
}

// TestMedian: the middle value of an odd count, the mean of the two middle
// values of an even one, whatever the order.
func TestMedian(t *testing.T) {
	res := results{values: map[string]map[string][]float64{"X": {"ns/op": {40, 10, 30, 20}, "B/op": {3, 1, 2}}}}
	if got, ok := res.median("X", "ns/op"); !ok || got != 25 {
		t.Errorf("median of 4 = %v, %t; want 25", got, ok)
	}
	if got, ok := res.median("X", "B/op"); !ok || got != 2 {
		t.Errorf("median of 3 = %v, %t; want 2", got, ok)
	}
	if _, ok := res.median("Y", "ns/op"); ok {
		t.Error("a median of nothing")
	}
}

func TestSplice(t *testing.T) {
	readme := "# x\n\n" + startMarker + "\nold\nlines\n" + endMarker + "\n\nrest\n"
	got, err := spliceText(readme, "\nnew\n\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "# x\n\n" + startMarker + "\nnew\n" + endMarker + "\n\nrest\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := spliceText("# x\n", "new"); err != errNoMarkers {
		t.Errorf("no markers: %v", err)
	}
	if _, err := spliceText(startMarker+"\n", "new"); err != errNoMarkers {
		t.Errorf("no end marker: %v", err)
	}
}

const sizeSample = `BenchmarkRead/cookiesession-2   	   40000	      9000 ns/op	       340.0 cookie-bytes	       203.0 data-bytes	       700.0 gorilla-cookie-bytes	      8000 net-ns/op	     32000 gorilla-net-ns/op	         4.000 net-x-gorilla	         2.000 json-marshals/op	         1.000 json-unmarshals/op	    3000 B/op	      30 allocs/op
BenchmarkSizeRead/100B/cookiesession-2 	   35486	      5000 ns/op	       239.0 cookie-bytes	         1.000 cookies	       111.0 data-bytes	       608.0 gorilla-cookie-bytes	     20000 gorilla-net-ns/op	      4000 net-ns/op	         5.000 net-x-gorilla	    2936 B/op	      33 allocs/op
BenchmarkSizeRead/100B/gorilla-2       	   10000	     21000 ns/op	       608.0 cookie-bytes	         1.000 cookies	   15136 B/op	     291 allocs/op
BenchmarkSizeRead/near-cap/cookiesession-2 	2025	    100000 ns/op	      6664 cookie-bytes	         2.000 cookies	      4928 data-bytes	      4760 gorilla-cookie-bytes	     40000 gorilla-net-ns/op	     99000 net-ns/op	         0.4000 net-x-gorilla	   43067 B/op	     230 allocs/op
BenchmarkSizeRead/near-cap/gorilla-2   	    4186	     41000 ns/op	      4752 cookie-bytes	         1.000 cookies	   33656 B/op	     475 allocs/op
BenchmarkSizeWrite/near-cap/cookiesession-2 	903	    150000 ns/op	      6665 cookie-bytes	         2.000 cookies	      4928 data-bytes	      4760 gorilla-cookie-bytes	     70000 gorilla-net-ns/op	    149000 net-ns/op	         0.4698 net-x-gorilla	   97683 B/op	     251 allocs/op
BenchmarkSizeRead/tokens-3KB/cookiesession-2 	5000	     60000 ns/op	      4035 cookie-bytes	         2.000 cookies	      2950 data-bytes	      5816 gorilla-cookie-bytes	     45000 gorilla-net-ns/op	     59000 net-ns/op	         0.7627 net-x-gorilla	   23000 B/op	     120 allocs/op
`

// TestSizesTable: a row per size, the cart series ordered by the data's
// size with the typical session among them, then the token series; both
// ratios' directions, the chunked session's cookie count, and gorilla's
// raised limit said where it was raised.
func TestSizesTable(t *testing.T) {
	res := results{values: map[string]map[string][]float64{}}
	if err := parse(strings.NewReader(sizeSample), &res); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := writeTables(&out, res); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	rows := []string{
		"| 100B (a visitor: no roles, an empty cart) | 111 B | 239 B | 608 B | 4.0 µs | 20.0 µs | 5.0x lower | n/a | n/a | n/a |",
		"| typical (the session above) | 203 B | 340 B | 700 B | 8.0 µs | 32.0 µs | 4.0x lower | n/a | n/a | n/a |",
		"| near-cap (a cart of 178 lines: two cookies, near the default cap) | 4,928 B | 6,665 B, 2 cookies | 4,760 B † | 99.0 µs | 40.0 µs | 2.5x higher | 149.0 µs | 70.0 µs | 2.1x higher |",
		// The token series after the cart series, though its data is smaller.
		"| tokens-3KB (OIDC: ID, access and refresh tokens) | 2,950 B | 4,035 B, 2 cookies | 5,816 B † | 59.0 µs | 45.0 µs | 1.3x higher | n/a | n/a | n/a |",
	}
	last := -1
	for _, row := range rows {
		i := strings.Index(got, row)
		if i < 0 {
			t.Errorf("missing %q in\n%s", row, got)
			continue
		}
		if i < last {
			t.Errorf("%q out of order", row)
		}
		last = i
	}
	for _, want := range []string{
		"† gorilla/sessions' CookieStore refuses this session with its defaults",
		"called its serializer (encoding/json): the read-only request Unmarshal once and Marshal 2 times.",
		"limit raised to 16,384 bytes",
		"| SizeRead/near-cap/gorilla | gorilla/sessions CookieStore, its defaults (gob); a Values key per field, its codecs' limit raised to 16,384 bytes |",
		"| SizeRead/100B/gorilla | gorilla/sessions CookieStore, its defaults (gob); a Values key per field |",
		"| SizeRead/tokens-3KB/cookiesession | cookiesession middleware, its defaults but the name (session, as every app's) | 60,000 |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	// 1KB and 3KB were not run: no row.
	if strings.Contains(got, "| 1KB") {
		t.Errorf("a row for a size not run:\n%s", got)
	}

	// Without size benchmarks, no sizes table.
	res = results{values: map[string]map[string][]float64{}}
	if err := parse(strings.NewReader(sample), &res); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := writeTables(&out, res); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "| session |") {
		t.Errorf("a sizes table without size benchmarks:\n%s", out.String())
	}
}

// TestDescribeBench: what sets a size's benchmark apart from the
// defaults is said: gorilla's raised limit, cookiesession's raised cap.
func TestDescribeBench(t *testing.T) {
	for name, want := range map[string]string{
		"SizeWrite/tokens-max/cookiesession": "cookiesession middleware, its defaults but the name (session, as every app's), and the cap: WithMaxSize(7,903)",
		"SizeWrite/tokens-max/gorilla":       "gorilla/sessions CookieStore, its defaults (gob); a Values key per field, its codecs' limit raised to 16,384 bytes",
		"SizeWrite/1KB/cookiesession":        "cookiesession middleware, its defaults but the name (session, as every app's)",
		"Write/cookiesession":                "cookiesession middleware, its defaults but the name (session, as every app's)",
	} {
		if got := describeBench(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}

// TestToolchains: a column per release, in the order given, a row per
// request and figure; a figure a run lacks is n/a.
func TestToolchains(t *testing.T) {
	dir := t.TempDir()
	a, b := dir+"/a.txt", dir+"/b.txt"
	if err := os.WriteFile(a, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	// The newer release's run: the changing request alone.
	newer := strings.Replace(strings.SplitAfter(sample, "\n")[1], "12014 net-ns/op", "6000 net-ns/op", 1)
	if err := os.WriteFile(b, []byte(newer), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := toolchains(&out, []string{"go1.26.8=" + a, "go1.27.4=" + b}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| typical session | go1.26.8 | go1.27.4 |\n|---|---:|---:|\n",
		"| changing: net cost | 11.0 µs | 6.0 µs |",
		"| changing: net cost vs gorilla/sessions' | 4.3x lower | 4.6x lower |",
		"| changing: net cost over the floor's | 1.20x | 1.52x |",
		"| changing: allocations more than the floor | +16 | +10 |",
		"| read-only: net cost | 8.0 µs | n/a |",
		"| read-only: net cost vs gorilla/sessions' | 3.5x lower | n/a |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in\n%s", want, &out)
		}
	}
	for _, bad := range [][]string{{"go1.27.4"}, {"=x"}, {"go1.27.4=" + dir + "/missing.txt"}} {
		if err := toolchains(new(bytes.Buffer), bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
