//go:build ignore

package twoway

// C is declared in c.go too: filedeps applies build constraints, and this
// file is not built.
func C() int { return 0 }
