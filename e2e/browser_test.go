package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// chromiumNames are the commands tried, in order, to find the browser when
// CHROMIUM is unset: the names Debian's, Ubuntu's and Google's packages give
// Chromium or Chrome. make race sets CHROMIUM to the one it found or
// installed, and looks for the same names.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// findChromium returns the path of Chromium, or fails the test saying how
// to install it.
func findChromium(t *testing.T) string {
	t.Helper()
	path, err := lookChromium(os.Getenv("CHROMIUM"))
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// lookChromium returns the path of the browser that chromium names (a path,
// or a command on PATH) or, when chromium is empty, of the first of
// chromiumNames on PATH. A CHROMIUM that names nothing runnable is an error,
// not a reason to look elsewhere: the browser tested must be the one asked
// for.
func lookChromium(chromium string) (string, error) {
	if chromium != "" {
		path, err := exec.LookPath(chromium)
		if err != nil {
			return "", fmt.Errorf("CHROMIUM=%q: %v; set it to the path of Chromium or Chrome, or unset it to look for %q on PATH",
				chromium, err, chromiumNames)
		}
		return path, nil
	}
	for _, name := range chromiumNames {
		if path, err := exec.LookPath(name); err == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("no Chromium or Chrome found (looked for %q on PATH): install Debian's chromium package "+
		"(apt-get install --no-install-recommends chromium), set CHROMIUM to the path of Chromium or Chrome, "+
		"or run make chromium at the repository's root (make test and make race do)", chromiumNames)
}

// newBrowser starts the Chromium at path, headless and with a fresh
// profile, for ctx's lifetime and at most until the test ends, and returns a
// context for its first tab. The browser's own output goes to the test log
// if the test fails.
func newBrowser(t *testing.T, ctx context.Context, path string) context.Context {
	t.Helper()
	profile := t.TempDir() // made before the cleanup below, so removed after it
	output := new(lockedBuffer)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // the sandbox needs user namespaces, which containers and root lack
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.CombinedOutput(output),
	)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for the browser to exit
		if t.Failed() {
			t.Logf("Chromium's output:\n%s", output)
		}
	})
	// Start the browser now, so that a failure to launch says so.
	if err := chromedp.Do(tabCtx); err != nil {
		t.Fatalf("starting Chromium (%s): %v\n%s", path, err, output)
	}
	return tabCtx
}

// TestLookChromium checks the lookup, without starting a browser: CHROMIUM
// first, then each of chromiumNames on PATH.
func TestLookChromium(t *testing.T) {
	dir := t.TempDir()
	exe := func(name string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return path
	}
	chrome := exe("google-chrome-stable")
	custom := exe("my-chromium")
	notExe := filepath.Join(dir, "not-executable")
	if err := os.WriteFile(notExe, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir) // only the files above are on PATH

	tests := []struct {
		chromium, want, wantErr string
	}{
		{chromium: "", want: chrome},             // the last name tried
		{chromium: custom, want: custom},         // a path
		{chromium: "my-chromium", want: custom},  // a command on PATH
		{chromium: notExe, wantErr: "CHROMIUM="}, // not runnable: no fallback
		{chromium: "no-such-browser", wantErr: "CHROMIUM="},
	}
	for _, tt := range tests {
		got, err := lookChromium(tt.chromium)
		if tt.wantErr != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("CHROMIUM=%q: %q, %v; want an error starting with %q", tt.chromium, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("CHROMIUM=%q: %q, %v; want %q", tt.chromium, got, err, tt.want)
		}
	}

	if err := os.Remove(chrome); err != nil {
		t.Fatal(err)
	}
	if _, err := lookChromium(""); err == nil || !strings.HasPrefix(err.Error(), "no Chromium or Chrome found") {
		t.Errorf("with no browser on PATH: %v; want one saying none was found", err)
	}
}
