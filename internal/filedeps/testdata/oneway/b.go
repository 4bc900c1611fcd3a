package oneway

// M is a method of T declared here: b.go depends on a.go, not the other
// way round.
func (t T) M() int { return t.n }
