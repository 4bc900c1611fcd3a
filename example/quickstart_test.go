package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// curlLine is one curl command of the README's Quick start, as curl would
// send it.
type curlLine struct {
	text   string
	method string
	target *url.URL
	form   string // -d values joined by &, sent as they are, as curl does
	want   string // the comment after #, if any
}

// quickStartCurls returns the curl commands the README's Quick start shows.
func quickStartCurls(t *testing.T) []curlLine {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Quick start\n")
	if !ok {
		t.Fatal("the README has no Quick start section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var lines []curlLine
	for line := range strings.SplitSeq(section, "\n") {
		if line = strings.TrimSpace(line); strings.HasPrefix(line, "curl ") {
			lines = append(lines, parseCurl(t, line))
		}
	}
	if len(lines) == 0 {
		t.Fatal("the Quick start shows no curl command")
	}
	return lines
}

// parseCurl reads the few curl options the Quick start uses, and fails on
// any other, so that a README change this test cannot follow is noticed.
func parseCurl(t *testing.T, line string) curlLine {
	t.Helper()
	c := curlLine{text: line, method: http.MethodGet}
	command, comment, _ := strings.Cut(line, "#")
	c.want = strings.TrimSpace(comment)
	args := strings.Fields(command)[1:]
	var data []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-c" || a == "-b" || a == "-d":
			if i++; i == len(args) {
				t.Fatalf("%s: %s lacks its value", line, a)
			}
			if a == "-d" {
				data = append(data, args[i])
			}
		case strings.HasPrefix(a, "-"):
			t.Fatalf("%s: the test does not know curl's %s", line, a)
		default:
			u, err := url.Parse("http://" + strings.TrimPrefix(a, "http://"))
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			c.target = u
		}
	}
	if c.target == nil {
		t.Fatalf("%s: no URL", line)
	}
	if len(data) > 0 {
		c.method, c.form = http.MethodPost, strings.Join(data, "&")
	}
	return c
}

// curlJar keeps cookies as curl's -c/-b jar does for localhost: every
// cookie the server set, Secure ones included (curl sends those to
// localhost over plain http; Go's cookiejar would not).
type curlJar map[string]string

func (j curlJar) update(resp *http.Response) {
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 || (!c.Expires.IsZero() && c.Expires.Before(time.Now())) {
			delete(j, c.Name)
		} else {
			j[c.Name] = c.Value
		}
	}
}

// TestQuickStartCurl sends the README Quick start's curl commands, as curl
// sends them, to this app, which must answer them as the Quick start does:
// a newcomer may try them on either.
func TestQuickStartCurl(t *testing.T) {
	lines := quickStartCurls(t)
	for _, tc := range []struct {
		name     string
		insecure bool
	}{
		{"throw-away key", true},            // go run ./example
		{"SESSION_KEYS set, Secure", false}, // the Quick start's way, with a key kept
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Insecure = tc.insecure
			srv, logs := newTestServer(t, cfg)
			base, err := url.Parse(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			jar := curlJar{}
			for _, c := range lines {
				body := sendCurl(t, srv.Client(), base, jar, c)
				if c.want == "" {
					continue
				}
				page := parsePage(t, body)
				if got := fmt.Sprintf("user %q, cart %q", page.user, page.cart); got != c.want {
					t.Errorf("%s: the page shows %s; the Quick start says %s\nthe log:\n%s", c.text, got, c.want, logs)
				}
			}
		})
	}
}

// sendCurl sends c to base with the jar's cookies, and returns the body.
// curl follows no redirect: a POST must answer 303, a GET 200.
func sendCurl(t *testing.T, client *http.Client, base *url.URL, jar curlJar, c curlLine) string {
	t.Helper()
	target := *c.target
	target.Scheme, target.Host = base.Scheme, base.Host
	req, err := http.NewRequestWithContext(t.Context(), c.method, target.String(), strings.NewReader(c.form))
	if err != nil {
		t.Fatal(err)
	}
	if c.method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded") // curl -d's
	}
	req.Header.Set("User-Agent", "curl/8.14.1")
	for name, value := range jar {
		req.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", c.text, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: %v", c.text, err)
	}
	want := http.StatusOK
	if c.method == http.MethodPost {
		want = http.StatusSeeOther
	}
	if resp.StatusCode != want {
		t.Fatalf("%s: %d %s, want %d", c.text, resp.StatusCode, strings.TrimSpace(string(b)), want)
	}
	jar.update(resp)
	return string(b)
}
