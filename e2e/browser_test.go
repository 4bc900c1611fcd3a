package e2e

import (
	"context"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// chromiumNames are the commands tried, in order, to find the browser.
var chromiumNames = []string{"chromium", "chromium-browser"}

// findChromium returns the path of Chromium, or fails the test saying how
// to install it.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range chromiumNames {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Fatalf("Chromium is not installed (looked for %q on PATH): install Debian's chromium package "+
		"(apt-get install chromium), or run make chromium at the repository's root (make test and make race do)", chromiumNames)
	return ""
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
