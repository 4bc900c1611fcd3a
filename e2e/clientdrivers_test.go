package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// A client is one real HTTP client with its own cookie store, driven one
// request at a time. Nothing follows redirects: the server sends none, and
// curl 7.88.1 mishandles its jar with -L (curl issue #10677).
type client interface {
	// do sends a request without a body and returns the response.
	do(ctx context.Context, method, url string) (status int, body string, err error)
	// snapshot copies the cookies the client holds; restore puts such a
	// copy back in place of what it holds then, as a thief replaying a
	// stolen cookie would.
	snapshot(ctx context.Context) (any, error)
	restore(ctx context.Context, snap any) error
}

// lookProgram returns the path of a program the test drives, or fails the
// test saying which Debian package provides it.
func lookProgram(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found on PATH (%v): install Debian's %s package "+
			"(apt-get install --no-install-recommends %s)", name, err, pkg, pkg)
	}
	return path
}

// curlClient runs the curl program once per request, with one jar file
// for reading and writing, as shell scripts do.
type curlClient struct {
	path, jar string
}

func newCurlClient(t *testing.T, path string) *curlClient {
	jar := filepath.Join(t.TempDir(), "jar")
	if err := os.WriteFile(jar, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return &curlClient{path: path, jar: jar}
}

func (c *curlClient) do(ctx context.Context, method, url string) (int, string, error) {
	// -q first: a ~/.curlrc must not change what is tested. No proxy: the
	// environment's must not see loopback requests.
	args := []string{"-q", "-sS", "--noproxy", "*", "--max-time", "15",
		"-b", c.jar, "-c", c.jar, "-o", "-", "-w", "\n%{http_code}"}
	switch method {
	case http.MethodGet:
	case http.MethodPost:
		args = append(args, "-d", "")
	default:
		return 0, "", fmt.Errorf("curl client: method %s not supported", method)
	}
	cmd := exec.CommandContext(ctx, c.path, append(args, url)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, "", fmt.Errorf("curl: %v\n%s", err, stderr.Bytes())
	}
	i := bytes.LastIndexByte(out, '\n')
	status, err := strconv.Atoi(string(out[i+1:]))
	if i < 0 || err != nil {
		return 0, "", fmt.Errorf("curl: no status code at the end of %q", out)
	}
	return status, string(out[:i]), nil
}

func (c *curlClient) snapshot(context.Context) (any, error) { return os.ReadFile(c.jar) }

func (c *curlClient) restore(_ context.Context, snap any) error {
	return os.WriteFile(c.jar, snap.([]byte), 0o644)
}

// pyClient is one python3 process running testdata/pyclient.py: one
// http.cookiejar.CookieJar for the whole flow, fed commands on stdin.
type pyClient struct {
	mu     sync.Mutex
	in     io.WriteCloser
	out    *bufio.Reader
	stderr *lockedBuffer
	saves  int
}

// newPyClient starts the script for ctx's lifetime, and at most until the
// test ends.
func newPyClient(t *testing.T, ctx context.Context, python string) *pyClient {
	t.Helper()
	c := &pyClient{stderr: new(lockedBuffer)}
	cmd := exec.CommandContext(ctx, python, "testdata/pyclient.py")
	cmd.Stderr = c.stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s testdata/pyclient.py: %v", python, err)
	}
	c.in, c.out = in, bufio.NewReader(out)
	t.Cleanup(func() {
		in.Close() // the script ends at the end of its input
		if err := cmd.Wait(); err != nil && ctx.Err() == nil {
			t.Errorf("pyclient.py: %v\n%s", err, c.stderr)
		}
	})
	return c
}

// pyAnswer is a line the script answers with.
type pyAnswer struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
	Error  string `json:"error"`
}

func (c *pyClient) call(cmd map[string]string) (pyAnswer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	line, err := json.Marshal(cmd)
	if err != nil {
		return pyAnswer{}, err
	}
	if _, err := c.in.Write(append(line, '\n')); err != nil {
		return pyAnswer{}, fmt.Errorf("pyclient.py: %v\n%s", err, c.stderr)
	}
	// The process is killed when the flow's context ends, which ends this
	// read too.
	answer, err := c.out.ReadBytes('\n')
	if err != nil {
		return pyAnswer{}, fmt.Errorf("pyclient.py: reading its answer: %v\n%s", err, c.stderr)
	}
	var a pyAnswer
	if err := json.Unmarshal(answer, &a); err != nil {
		return pyAnswer{}, fmt.Errorf("pyclient.py answered %q: %v", answer, err)
	}
	if a.Error != "" {
		return pyAnswer{}, fmt.Errorf("pyclient.py: %s", a.Error)
	}
	return a, nil
}

func (c *pyClient) do(_ context.Context, method, url string) (int, string, error) {
	a, err := c.call(map[string]string{"op": "request", "method": method, "url": url})
	return a.Status, a.Body, err
}

func (c *pyClient) snapshot(context.Context) (any, error) {
	c.saves++
	name := strconv.Itoa(c.saves)
	_, err := c.call(map[string]string{"op": "save", "name": name})
	return name, err
}

func (c *pyClient) restore(_ context.Context, snap any) error {
	_, err := c.call(map[string]string{"op": "restore", "name": snap.(string)})
	return err
}

// goClient is an http.Client with a net/http/cookiejar.
type goClient struct {
	base *url.URL
	hc   *http.Client
}

func newGoClient(base string) (*goClient, error) {
	u, err := url.Parse(base + "/")
	if err != nil {
		return nil, err
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	return &goClient{base: u, hc: &http.Client{
		Jar:       jar,
		Transport: &http.Transport{}, // no proxy, no connections shared with other tests
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}, nil
}

func (c *goClient) do(ctx context.Context, method, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

func (c *goClient) snapshot(context.Context) (any, error) { return c.hc.Jar.Cookies(c.base), nil }

func (c *goClient) restore(_ context.Context, snap any) error {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return err
	}
	var cookies []*http.Cookie
	for _, k := range snap.([]*http.Cookie) {
		cookies = append(cookies, &http.Cookie{Name: k.Name, Value: k.Value, Path: "/"})
	}
	jar.SetCookies(c.base, cookies)
	c.hc.Jar = jar
	return nil
}

// chromeClient sends requests with fetch() from a page of the server, in
// Chromium: the browser's own cookie store decides what goes out.
type chromeClient struct {
	tab  context.Context
	base string
}

// newChromeClient opens the server's blank page in a new Chromium, for
// ctx's lifetime and at most until the test ends.
func newChromeClient(t *testing.T, ctx context.Context, chromium, base string) *chromeClient {
	t.Helper()
	c := &chromeClient{tab: newBrowser(t, ctx, chromium), base: base}
	stepCtx, cancel := context.WithTimeout(c.tab, stepTimeout)
	defer cancel()
	if err := chromedp.Do(stepCtx, chromedp.Navigate(base+"/page")); err != nil {
		t.Fatalf("opening %s/page in Chromium: %v", base, err)
	}
	return c
}

// fetchResult is what the page's fetch() returns.
type fetchResult struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
}

func (c *chromeClient) do(_ context.Context, method, url string) (int, string, error) {
	ctx, cancel := context.WithTimeout(c.tab, stepTimeout)
	defer cancel()
	js := fmt.Sprintf(`(async () => {
		const r = await fetch(%q, {method: %q, cache: "no-store", credentials: "same-origin", redirect: "manual"});
		return {status: r.status, body: await r.text()};
	})()`, url, method)
	r, err := chromedp.Run(ctx, chromedp.Evaluate[fetchResult](js, chromedp.EvalAwaitPromise))
	if err != nil {
		return 0, "", fmt.Errorf("fetch in Chromium: %w", err)
	}
	return r.Status, r.Body, nil
}

func (c *chromeClient) snapshot(context.Context) (any, error) {
	ctx, cancel := context.WithTimeout(c.tab, stepTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{c.base + "/"}})
	if err != nil {
		return nil, err
	}
	return res.Cookies, nil
}

func (c *chromeClient) restore(_ context.Context, snap any) error {
	ctx, cancel := context.WithTimeout(c.tab, stepTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		return err
	}
	var params []*network.CookieParam
	for _, k := range snap.([]*network.Cookie) {
		p := &network.CookieParam{URL: c.base + "/", Name: k.Name, Value: k.Value, Path: k.Path,
			Secure: k.Secure, HTTPOnly: k.HTTPOnly, SameSite: k.SameSite}
		if !k.Session {
			p.Expires = cdp.TimeSinceEpoch(k.Expires)
		}
		params = append(params, p)
	}
	if len(params) == 0 {
		return errors.New("nothing to restore")
	}
	_, err := chromedp.Call(ctx, network.SetCookies, network.SetCookiesParams{Cookies: params})
	return err
}
