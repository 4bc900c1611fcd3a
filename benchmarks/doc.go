// Package benchmarks measures cookiesession against the cost of doing
// nothing, against the bare primitives it is built on (the "floor": JSON,
// XChaCha20-Poly1305 and base64url on the same data, nothing else) and
// against gorilla/sessions' CookieStore, on one typical session of about
// 200 bytes of JSON (apps.Typical), and how the cost grows with the
// session: cookiesession, gorilla/sessions and no session side by side at
// about 100 B, 1 KB and 3 KB of JSON and near cookiesession's default cap,
// in two cookies, and with OIDC tokens in about 3 KB and 5.7 KB of JSON
// (apps.Sizes, size_test.go).
//
// cookiesession runs with every option at its default but the cookie's
// name, "session" as in every app (apps.CookieName). It keeps no cache of
// opened values: each request that asks for its session opens the cookie in
// full (base64url, XChaCha20-Poly1305, encoding/json), and serialises the
// data again at commit to compare it with the cookie's bytes, which is how
// it knows whether to write the cookie back (and, since the handlers here
// write a body, which commits, once more after the handler returns, to
// catch a change made too late to be sent). In the request benchmarks, as
// in the load command, each request brings the value the previous response
// set, as a browser does.
//
// It is a module of its own so that gorilla/sessions and the load generator
// never enter the dependency graph of cookiesession's users.
//
//	go test -run '^$' -bench . -benchmem     # the request benchmarks
//	go test -run '^$' -bench Size -benchmem  # only the sizes
//	go run ./load                            # throughput over loopback
//	./run.sh                                 # both, and README.md's figures
//
// To find where the time goes, profile one case:
//
//	go test -run '^$' -bench 'Write/cookiesession$' -compare=false -cpuprofile cpu.out
//	go test -run '^$' -bench 'SizeRead/3KB/cookiesession$' -compare=false -cpuprofile cpu.out
//	go run ./load -apps none,cookiesession -routes /write -cpuprofile cpu.out
//
// Every cookiesession benchmark times its references in the same run and
// reports ratios to them, because absolute numbers on a shared machine are
// noise; nothing here asserts a time.
package benchmarks
