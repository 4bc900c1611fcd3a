// Package e2e holds the real-browser tests of the example app: a headless
// Chromium, driven over the DevTools protocol, signs in, fills a cart past
// one cookie's size and signs out, while the tests check both what the page
// shows and which cookies the browser actually stored.
//
// dbsc_harness_test.go is the harness for Device Bound Session Credentials
// tests (an https server Chromium trusts, Chromium with DBSC on and its
// DevTools events recorded, a cookie thief), with what Chromium was seen
// to do; dbsc_test.go runs the library's device binding through it.
//
// clients_test.go drives curl, Python's http.cookiejar, Chromium and Go's
// cookiejar through one flow; proxy_test.go puts nginx in front of the
// library, with the limits of its response buffer.
//
// It is a module of its own so that chromedp never enters the dependency
// graph of the library's users. Run it with go test in this directory, or
// with make race at the repository's root, which installs Chromium, curl,
// Python and nginx first.
package e2e
