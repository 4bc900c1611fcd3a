package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ce967478/cookiesession"
)

// nginx reads an upstream's response headers into proxy_buffer_size, one
// memory page by default (4 KB on x86-64), and answers 502 to a response
// whose headers do not fit: the application never hears of it, and the
// session's change is lost. The README says so and gives two remedies;
// this test holds its words to Debian's nginx: with nginx's defaults a
// session of two cookies gets the 502 while the application sees a
// success; with WithMaxSize(3000) every save comes through whole or fails
// loudly, the previous session kept, and none gets a 502; with
// proxy_buffer_size 16k the largest session comes through, and every
// session the next request's budget lets a save write beside other
// cookies gets past nginx's 8 KB limit on a request's Cookie line.
func TestBehindNginx(t *testing.T) {
	nginx := lookNginx(t)
	for _, tt := range []struct {
		name    string
		buffers string // nginx directives of the proxied location
		opts    []cookiesession.Option
		check   func(t *testing.T, p *proxied)
	}{
		{name: "nginx's defaults, the default cap", check: func(t *testing.T, p *proxied) {
			p.save(t, 100, http.StatusOK)
			p.save(t, 4000, http.StatusBadGateway) // two cookies
			if errs := p.takeErrors(); len(errs) != 0 {
				t.Errorf("the application heard of the 502: %v", errs)
			}
			if got := p.read(t); got != 100 {
				t.Errorf("after the 502 the session holds %d bytes; want the previous 100", got)
			}
		}},
		{name: "nginx's defaults, WithMaxSize(3000)", opts: []cookiesession.Option{cookiesession.WithMaxSize(3000)}, check: func(t *testing.T, p *proxied) {
			saved, failed, held := 0, 0, 0
			for n := 1000; n <= 5000; n += 250 {
				switch code := p.save(t, n, 0); code {
				case http.StatusOK:
					saved++
					held = n
				case http.StatusInternalServerError:
					failed++
					if errs := p.takeErrors(); len(errs) != 1 || !errors.Is(errs[0], cookiesession.ErrTooLarge) {
						t.Errorf("saving %d bytes: 500, and the application heard %v; want one ErrTooLarge", n, errs)
					}
				default:
					t.Fatalf("saving %d bytes: status %d; want the session saved (200) or refused loudly (500)", n, code)
				}
				if got := p.read(t); got != held {
					t.Fatalf("after saving %d bytes the session holds %d; want %d", n, got, held)
				}
			}
			if saved == 0 || failed == 0 {
				t.Errorf("%d saves came through and %d failed: the sizes tried should see both", saved, failed)
			}
		}},
		{name: "proxy_buffer_size 16k, the default cap", buffers: "proxy_buffer_size 16k; proxy_buffers 8 16k;", check: func(t *testing.T, p *proxied) {
			largest := 5000 // about 6,800 sealed: two cookies, near the cap
			p.save(t, largest, http.StatusOK)
			if got := p.read(t); got != largest {
				t.Errorf("the session holds %d bytes; want %d", got, largest)
			}
		}},
		{name: "proxy_buffer_size 16k, the next request's budget", buffers: "proxy_buffer_size 16k; proxy_buffers 8 16k;", check: func(t *testing.T, p *proxied) {
			// nginx refuses a Cookie header line past its 8 KB buffer
			// (large_client_header_buffers): the budget is what keeps a
			// saved session from leading there.
			p.setOther(t, 8200)
			if code, _ := p.get(t, "/"); code != http.StatusBadRequest {
				t.Fatalf("a Cookie header of 8.2 KB: status %d; want nginx's 400", code)
			}
			p.setOther(t, 2000)
			held := 0
			for n := 3000; ; n += 100 {
				if n > 7000 {
					t.Fatal("no save failed: the budget was never reached")
				}
				code := p.save(t, n, 0)
				if code == http.StatusInternalServerError {
					if errs := p.takeErrors(); len(errs) != 1 || !errors.Is(errs[0], cookiesession.ErrTooLarge) {
						t.Errorf("saving %d bytes: 500, and the application heard %v; want one ErrTooLarge", n, errs)
					}
					break
				}
				if code != http.StatusOK {
					t.Fatalf("saving %d bytes beside 2 KB of other cookies: status %d", n, code)
				}
				held = n
				if got := p.read(t); got != held {
					t.Fatalf("after saving %d bytes the session holds %d", n, got)
				}
			}
			t.Logf("the largest session beside 2 KB of other cookies: %d bytes of data", held)
			if got := p.read(t); got != held || held < 4000 {
				t.Errorf("after the refused save the session holds %d bytes; want the last saved, %d, of two cookies", got, held)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, newProxied(t, nginx, tt.buffers, tt.opts...))
		})
	}
}

// lookNginx returns the nginx program the tests use: NGINX if set (make
// sets it), else nginx on PATH or in /usr/sbin, where Debian puts it.
func lookNginx(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("NGINX"); p != "" {
		return p
	}
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	return lookProgram(t, "nginx", "nginx-light")
}

// proxied is an application on a Manager, behind nginx, and a client with
// a cookie jar that goes through nginx.
type proxied struct {
	url    string
	client *http.Client
	mu     sync.Mutex
	errs   []error // what the error handler heard
}

// newProxied starts the application and nginx in front of it, with
// buffers in the location that proxies to it, both stopped when the test
// ends.
func newProxied(t *testing.T, nginx, buffers string, opts ...cookiesession.Option) *proxied {
	t.Helper()
	p := &proxied{}
	opts = append([]cookiesession.Option{
		cookiesession.WithSecure(false), // plain HTTP on loopback
		cookiesession.WithLogger(slog.New(slog.DiscardHandler)),
		cookiesession.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			p.mu.Lock()
			p.errs = append(p.errs, err)
			p.mu.Unlock()
			http.Error(w, "session not saved", http.StatusInternalServerError)
		}),
	}, opts...)
	m, err := cookiesession.New[sessionData](mustKeyring(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	app := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		if v := r.URL.Query().Get("size"); v != "" {
			n, _ := strconv.Atoi(v)
			s.Data.Pad = padding(n)
		}
		fmt.Fprint(w, len(s.Data.Pad))
	})))
	t.Cleanup(app.Close)
	p.url = startNginx(t, nginx, app.Listener.Addr().String(), buffers)
	jar, _ := cookiejar.New(nil)
	p.client = &http.Client{Jar: jar, Timeout: 10 * time.Second}
	return p
}

// mustKeyring returns a Keyring of one new secret.
func mustKeyring(t *testing.T) *cookiesession.Keyring {
	t.Helper()
	keys, err := cookiesession.NewKeyring(cookiesession.GenerateSecret())
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// save asks for a session of n bytes of data and returns the status, which
// must be want unless want is 0.
func (p *proxied) save(t *testing.T, n, want int) int {
	t.Helper()
	code, _ := p.get(t, "/?size="+strconv.Itoa(n))
	if want != 0 && code != want {
		t.Fatalf("saving %d bytes: status %d; want %d", n, code, want)
	}
	return code
}

// read returns how many bytes of data the session the client holds has.
func (p *proxied) read(t *testing.T) int {
	t.Helper()
	code, body := p.get(t, "/")
	n, err := strconv.Atoi(body)
	if code != http.StatusOK || err != nil {
		t.Fatalf("reading the session: status %d, %q", code, body)
	}
	return n
}

// get requests path through nginx, and returns the status and the body.
func (p *proxied) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := p.client.Get(p.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// setOther gives the client another cookie of the site, of n bytes as
// its Cookie header carries it (name, "=" and value).
func (p *proxied) setOther(t *testing.T, n int) {
	t.Helper()
	u, err := url.Parse(p.url)
	if err != nil {
		t.Fatal(err)
	}
	const name = "site_preferences"
	p.client.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: strings.Repeat("p", n-len(name)-1), Path: "/"}})
}

// takeErrors returns what the error handler heard since the last call.
func (p *proxied) takeErrors() []error {
	p.mu.Lock()
	defer p.mu.Unlock()
	errs := p.errs
	p.errs = nil
	return errs
}

// startNginx runs nginx in the foreground on a free loopback port, proxying
// to upstream with buffers, and returns its URL once it answers. A port
// taken between choosing it and nginx binding it is tried again.
func startNginx(t *testing.T, nginx, upstream, buffers string) string {
	t.Helper()
	dir := t.TempDir()
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		conf := fmt.Sprintf(`daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path %[1]s/body; proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi; uwsgi_temp_path %[1]s/uwsgi; scgi_temp_path %[1]s/scgi;
	server {
		listen 127.0.0.1:%[2]d;
		location / { proxy_pass http://%[3]s; %[4]s }
	}
}
`, dir, port, upstream, buffers)
		path := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		// -e: the error log before the configuration is read, which would
		// otherwise be the system's, not writable but by root.
		cmd := exec.CommandContext(ctx, nginx, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", path)
		// TERM, not the default KILL: the master then stops its worker,
		// which would otherwise outlive it, listening.
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		cmd.WaitDelay = 5 * time.Second
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		t.Cleanup(func() { cancel(); <-exited })
		url := "http://127.0.0.1:" + strconv.Itoa(port)
		if waitListening(url, exited) {
			return url
		}
		cancel()
		<-exited
		log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		t.Logf("nginx did not start on port %d: %s%s", port, out.String(), log)
	}
	t.Fatal("nginx did not start")
	return ""
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitListening reports whether url answers within 5 seconds, and before
// the process exits.
func waitListening(url string, exited <-chan struct{}) bool {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if conn, err := net.DialTimeout("tcp", strings.TrimPrefix(url, "http://"), 100*time.Millisecond); err == nil {
			conn.Close()
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}
