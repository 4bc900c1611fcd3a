package cookiesession_test

// The typical session of the benchmarks: about 200 bytes of JSON, the same
// shape the benchmarks module compares against the peers.
type typicalItem struct {
	SKU string
	Qty int
}

type typical struct {
	UserID int64
	Name   string
	Roles  []string
	Cart   []typicalItem
	CSRF   string
	Theme  string
}

func newTypical() typical {
	return typical{
		UserID: 4711, Name: "Ada Lovelace", Roles: []string{"admin", "editor"},
		Cart: []typicalItem{{"SKU-1001", 2}, {"SKU-2002", 1}, {"SKU-3003", 5}},
		CSRF: "q0Zx7rQ2M5u8v1Wb9sYf3kLp", Theme: "dark",
	}
}
