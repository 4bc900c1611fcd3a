package twoway

// B is declared in b.go too: type-checking this file with the others would
// fail. filedeps leaves test files out.
func B() int { return 0 }
