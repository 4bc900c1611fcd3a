package main

import (
	"bytes"
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkWrite/cookiesession-2   	   33400	     11573 ns/op	       342.0 cookie-bytes	        16.00 cookie-extra-bytes	         0.4858 cookie-x-gorilla	        10.00 extra-allocs	     12014 net-ns/op	         1.521 net-x-floor	         4.649 net-x-gorilla	    4328 B/op	      46 allocs/op
BenchmarkWrite/cookiesession-2   	   33400	     11000 ns/op	       342.0 cookie-bytes	        16.00 cookie-extra-bytes	         0.4858 cookie-x-gorilla	         6.00 extra-allocs	     10000 net-ns/op	         1.200 net-x-floor	         4.100 net-x-gorilla	    4328 B/op	      46 allocs/op
BenchmarkWrite/cookiesession-2   	   33400	     12000 ns/op	       342.0 cookie-bytes	        16.00 cookie-extra-bytes	         0.4858 cookie-x-gorilla	         6.00 extra-allocs	     11000 net-ns/op	         1.100 net-x-floor	         4.300 net-x-gorilla	    4328 B/op	      46 allocs/op
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
		"| target (issue #6) | changing | read-only |",
		"| net cost at most 1.25x the floor's | 1.20x ✓ | n/a |",
		"| at most 8 allocations more than the floor | +6 ✓ | n/a |",
		"| net cost at least 4x lower than gorilla/sessions' | 4.3x lower ✓ | n/a |",
		"| net cost (the app minus the same handler without a session) | 11.0 µs | n/a |",
		"| Write/none | no session | 1,521 | 1016 | 10 | - |",
		"| Write/cookiesession | cookiesession middleware, its defaults | 11,573 | 4328 | 46 | 342 |",
		"Medians of 3 runs each.",
		// 16 bytes over the floor and 49% of gorilla's both pass.
		"| cookie at most 40 bytes longer than the floor's | +16 B ✓ | n/a |",
		"| cookie at most 55% of gorilla/sessions' | 49% ✓ | n/a |",
		"pays 250 ns and 2 allocations.",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in\n%s", want, out.String())
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
