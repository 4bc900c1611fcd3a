package main

import (
	"bytes"
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
		"| Write/cookiesession | cookiesession middleware, its defaults | 11,573 | 4328 | 46 | 342 |",
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
