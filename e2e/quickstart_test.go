package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ce967478/cookiesession"
)

// quickStart returns the Go code of the README's Quick start: the first
// ```go block after its heading.
func quickStart(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Quick start\n")
	if !ok {
		t.Fatal("the README has no Quick start section")
	}
	_, code, ok := strings.Cut(section, "```go\n")
	if !ok {
		t.Fatal("the Quick start has no Go code")
	}
	code, _, ok = strings.Cut(code, "```\n")
	if !ok {
		t.Fatal("the Quick start's code block does not end")
	}
	return code
}

// TestQuickStart builds the README's Quick start as a newcomer would, in a
// module of its own, runs it, and walks its flow with a cookie jar: sign
// in, fill the cart, sign out. The only change is the port, which must be
// free.
func TestQuickStart(t *testing.T) {
	code := quickStart(t)
	addr := freeLoopbackAddr(t)
	if strings.Count(code, `"127.0.0.1:8080"`) != 1 {
		t.Fatal(`the Quick start should listen on "127.0.0.1:8080", once`)
	}
	code = strings.Replace(code, `"127.0.0.1:8080"`, `"`+addr+`"`, 1)

	dir := t.TempDir()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	goMod := "module quickstart\n\ngo 1.25.0\n\nrequire github.com/ce967478/cookiesession v0.0.0\n\n" +
		"replace github.com/ce967478/cookiesession => " + root + "\n"
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"main.go": code, "go.mod": goMod, "go.sum": string(sum)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), buildTimeout)
	defer cancel()
	bin := filepath.Join(dir, "quickstart")
	for _, args := range [][]string{{"mod", "tidy"}, {"build", "-o", bin, "."}} {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "SESSION_KEYS="+cookiesession.EncodeSecret(cookiesession.GenerateSecret()))
	output := new(lockedBuffer)
	cmd.Stdout, cmd.Stderr = output, output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("the Quick start's output:\n%s", output)
		}
	})

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar, Timeout: 5 * time.Second}
	base := "http://" + addr
	page := func() string {
		t.Helper()
		resp, err := client.Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /: %d %v", resp.StatusCode, err)
		}
		return strings.TrimSpace(string(b))
	}
	post := func(path string, form url.Values) {
		t.Helper()
		resp, err := client.PostForm(base+path, form) // follows the 303 to GET /
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
			t.Fatalf("POST %s: ended at %s with %d", path, resp.Request.URL, resp.StatusCode)
		}
	}

	// Wait for it to listen, within a bound.
	deadline := time.Now().Add(startTimeout)
	for {
		resp, err := client.Get(base + "/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Quick start did not answer: %v", err)
		}
		time.Sleep(pollInterval)
	}

	if got := page(); got != `user "", cart []` {
		t.Errorf("a new visitor sees %q", got)
	}
	post("/login", url.Values{"user": {"ada"}})
	post("/cart", url.Values{"item": {"tea"}})
	if got := page(); got != `user "ada", cart ["tea"]` {
		t.Errorf("after signing in and adding tea: %q", got)
	}
	u, _ := url.Parse(base)
	copied := jar.Cookies(u)
	post("/logout", nil)
	if got := page(); got != `user "", cart []` {
		t.Errorf("after signing out: %q", got)
	}
	// A copy of the cookie from before the sign-out is refused.
	thief, _ := cookiejar.New(nil)
	thief.SetCookies(u, copied)
	client.Jar = thief
	if got := page(); got != `user "", cart []` {
		t.Errorf("the copied cookie after sign-out: %q", got)
	}
}
