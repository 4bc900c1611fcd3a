// Package cookieheader holds a benchmark of what a Cookie header of about
// 1 MiB costs cookiesession: 2,999 cookies planted under the session's
// own name, and the valid session cookie. See header_test.go.
//
// It imports nothing of this module but the library, so that it builds
// against older checkouts of the library as well (see the README of
// benchmarks/).
package cookieheader
