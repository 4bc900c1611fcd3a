// Package twoway is a fixture of filedeps' test: a.go and b.go depend on
// each other both ways, and so do g1.go and g2.go; c.go only uses the
// others, and no file uses it.
package twoway

// A is used by b.go, which declares a method of it.
type A struct{ n int }

// Quad uses Double, declared in b.go: a.go depends on b.go through a
// method, although A is declared here.
func (a A) Quad() int { return a.Double() * 2 }
