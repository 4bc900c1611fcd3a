// Package oneway is a fixture of filedeps' test: its files depend on each
// other one way only.
package oneway

// T is used by b.go and c.go.
type T struct{ n int }
