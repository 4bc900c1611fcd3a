package twoway

import "strings"

// Double is a method of A, declared here: b.go uses type A and field n
// from a.go.
func (a A) Double() int { return a.n * 2 }

// B uses the standard library only.
func B() int { return len(strings.Repeat("x", 2)) }
