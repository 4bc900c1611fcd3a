package oneway

// F uses a.go and b.go, and nothing uses it.
func F() int { return T{n: 1}.M() }
