// Package benchmarks measures cookiesession against the cost of doing
// nothing, against the bare primitives it is built on (the "floor": JSON,
// XChaCha20-Poly1305 and base64url on the same data, nothing else) and
// against gorilla/sessions' CookieStore, on one typical session of about
// 200 bytes of JSON (apps.Typical).
//
// It is a module of its own so that gorilla/sessions and the load generator
// never enter the dependency graph of cookiesession's users.
//
//	go test -run '^$' -bench . -benchmem     # the request benchmarks
//	go run ./load                            # throughput over loopback
//	./run.sh                                 # both, and the README's section
//
// Every cookiesession benchmark times its references in the same run and
// reports ratios to them, because absolute numbers on a shared machine are
// noise; nothing here asserts a time.
package benchmarks
