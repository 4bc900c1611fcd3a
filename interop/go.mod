module github.com/ce967478/cookiesession/interop

go 1.25.0

require (
	github.com/ce967478/cookiesession v0.0.0
	github.com/gorilla/sessions v1.4.0
)

require (
	github.com/gorilla/securecookie v1.1.2 // indirect
	golang.org/x/crypto v0.55.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
)

replace github.com/ce967478/cookiesession => ../
