package twoway

// C uses a.go and b.go; neither uses c.go.
func C() int { return A{n: B()}.Double() }
