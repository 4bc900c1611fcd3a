// Package benchmarks measures cookiesession against the cost of doing
// nothing, against the bare primitives it is built on (the "floor": JSON,
// XChaCha20-Poly1305 and base64url on the same data, nothing else) and
// against gorilla/sessions' CookieStore, on one typical session of about
// 200 bytes of JSON (apps.Typical).
//
// cookiesession is measured two ways, side by side: with its defaults
// ("cookiesession"), whose cache of recently opened and sealed values
// serves a value the Manager has seen before (a browser resending the value
// the previous response set, the common case), and with WithCacheSize(0)
// ("cookiesession-cold"), which opens the value in full, as an instance
// does the first time a value reaches it (after a deploy, or behind a load
// balancer without sticky sessions). In the request benchmarks, as in the
// load command, each request brings the value the previous response set,
// so the default always hits its cache: read the two as the best and the
// worst case of a request.
//
// It is a module of its own so that gorilla/sessions and the load generator
// never enter the dependency graph of cookiesession's users.
//
//	go test -run '^$' -bench . -benchmem     # the request benchmarks
//	go run ./load                            # throughput over loopback
//	./run.sh                                 # both, and the README's section
//
// To find where the time goes, profile one case:
//
//	go test -run '^$' -bench 'Write/cookiesession$' -compare=false -cpuprofile cpu.out
//	go run ./load -apps none,cookiesession -routes /write -cpuprofile cpu.out
//
// Every cookiesession benchmark times its references in the same run and
// reports ratios to them, because absolute numbers on a shared machine are
// noise; nothing here asserts a time.
package benchmarks
