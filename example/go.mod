module github.com/ce967478/cookiesession/example

go 1.26.0

require (
	github.com/ce967478/cookiesession v0.0.0
	github.com/ce967478/cookiesession/redisstore v0.0.0-00010101000000-000000000000
	github.com/redis/go-redis/v9 v9.23.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/gorilla/securecookie v1.1.2 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/crypto v0.55.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

replace (
	github.com/ce967478/cookiesession => ../
	github.com/ce967478/cookiesession/redisstore => ../redisstore
)
