module github.com/ce967478/cookiesession/benchmarks

go 1.25.0

require (
	github.com/ce967478/cookiesession v0.0.0-00010101000000-000000000000
	github.com/gorilla/securecookie v1.1.2
	github.com/gorilla/sessions v1.4.0
	golang.org/x/crypto v0.55.0
)

require golang.org/x/sys v0.47.0 // indirect

replace github.com/ce967478/cookiesession => ../
