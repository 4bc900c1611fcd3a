package twoway

// Get uses type G and field v from g1.go.
func (g G[T]) Get() T { return g.v }
