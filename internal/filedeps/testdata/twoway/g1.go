package twoway

// G is generic: its instantiated method and field must count where they
// are declared.
type G[T any] struct{ v T }

// UseG uses Get, declared in g2.go, on an instance of G.
func UseG() int { return G[int]{v: 1}.Get() }
