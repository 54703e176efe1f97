// Package browsertest starts a headless Chromium for the tests of licmesh's
// web pages (the masters' dashboard, the hub's pages), the way httptest
// starts a server: one fresh browser per test, with its own profile, that
// records every console error, Content-Security-Policy violation and
// uncaught exception, and stops when the test ends.
//
// Nothing here downloads a browser: it uses Debian's chromium at
// ChromiumPath, and skips the test loudly when there is none, unless
// LICMESH_REQUIRE_BROWSER is set, which makes that a failure (CI sets it).
package browsertest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// ChromiumPath is where the browser is expected (Debian's chromium).
const ChromiumPath = "/usr/bin/chromium"

// RequireEnv, when set to anything, turns a missing browser into a
// failure instead of a skip.
const RequireEnv = "LICMESH_REQUIRE_BROWSER"

// Desktop and Phone are the window widths the page tests check: a laptop
// and a current phone held upright (CSS pixels).
const (
	DesktopWidth, DesktopHeight = 1280, 860
	PhoneWidth, PhoneHeight     = 390, 844
)

// Browser is one running Chromium: Ctx drives its first tab.
type Browser struct {
	// Ctx is the chromedp context of the tab; it ends at Timeout or when
	// the test does.
	Ctx context.Context

	mu   sync.Mutex
	seen []string
	dir  string
	// downloads receives the path of each completed download.
	downloads chan string
}

// Timeout bounds one test's whole use of its browser.
const Timeout = 90 * time.Second

// Start starts a fresh headless Chromium for t, or skips t (see RequireEnv).
func Start(t *testing.T) *Browser {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		if os.Getenv(RequireEnv) != "" {
			t.Fatalf("%s is set but there is no Chromium at %s: %v", RequireEnv, ChromiumPath, err)
		}
		t.Skip("!!! SKIPPING A BROWSER TEST: no Chromium at " + ChromiumPath +
			" (apt-get install chromium; set " + RequireEnv + "=1 to make this a failure) !!!")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.IgnoreCertErrors,
		chromedp.WindowSize(DesktopWidth, DesktopHeight),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	ctx, cancelTimeout := context.WithTimeout(bctx, Timeout)
	t.Cleanup(func() {
		// Close the browser and wait for it, so that it has stopped writing
		// its profile before TempDir removes it; a short test ends before
		// Chromium settles.
		_ = chromedp.Cancel(bctx)
		cancelTimeout()
		cancelBrowser()
		cancelAlloc()
	})
	b := &Browser{Ctx: ctx, downloads: make(chan string, 16)}
	// Download events come to the session that allowed downloads: the
	// tab's (see AllowDownloads).
	chromedp.ListenTarget(ctx, b.record)
	require.NoError(t, chromedp.Run(ctx, chromedp.ActionFunc(func(ctx context.Context) error { return log.Enable().Do(ctx) })), "start Chromium")
	return b
}

// record keeps what the page reports as wrong: console errors and
// warnings (CSP violations are logged as errors), and uncaught exceptions.
func (b *Browser) record(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *browser.EventDownloadProgress:
		if ev.State == browser.DownloadProgressStateCompleted {
			path := ev.FilePath
			if path == "" {
				b.mu.Lock()
				path = filepath.Join(b.dir, ev.GUID) // AllowAndName names files by GUID
				b.mu.Unlock()
			}
			select {
			case b.downloads <- path:
			default: // nobody is waiting for that many downloads
			}
		}
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.LevelError || ev.Entry.Level == log.LevelWarning {
			msg = "log " + string(ev.Entry.Level) + ": " + ev.Entry.Text + " " + ev.Entry.URL
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.APITypeError || ev.Type == runtime.APITypeWarning {
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			msg = "console " + string(ev.Type) + ": " + strings.Join(parts, " ")
		}
	case *runtime.EventExceptionThrown:
		msg = "exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			msg += " " + ev.ExceptionDetails.Exception.Description
		}
	}
	if msg != "" {
		b.mu.Lock()
		b.seen = append(b.seen, msg)
		b.mu.Unlock()
	}
}

// Problems lists the console errors, CSP violations and uncaught
// exceptions seen so far.
func (b *Browser) Problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.seen...)
}

// Run runs actions as one named step of t, failing t if any fails.
func (b *Browser) Run(t *testing.T, step string, actions ...chromedp.Action) {
	t.Helper()
	require.NoError(t, chromedp.Run(b.Ctx, actions...), "%s", step)
}

// AllowDownloads makes the browser save downloads into dir (named by their
// GUID) and report them to Downloaded.
func (b *Browser) AllowDownloads(dir string) chromedp.Action {
	b.mu.Lock()
	b.dir = dir
	b.mu.Unlock()
	return browser.SetDownloadBehavior(browser.SetDownloadBehaviorBehaviorAllowAndName).
		WithDownloadPath(dir).WithEventsEnabled(true)
}

// Downloaded waits up to 10 s for the next completed download and
// returns its bytes.
func (b *Browser) Downloaded(t *testing.T) []byte {
	t.Helper()
	select {
	case path := <-b.downloads:
		data, err := os.ReadFile(path)
		require.NoError(t, err, "read the download")
		return data
	case <-time.After(10 * time.Second):
		require.Fail(t, "no download completed within 10s")
		return nil
	}
}

// Viewport sets the tab's viewport: a phone width is emulated as a mobile
// device (so the page's viewport meta tag applies), a desktop one as a
// window.
func Viewport(width, height int64) chromedp.Action {
	if width < 600 {
		return chromedp.EmulateViewport(width, height, chromedp.EmulateMobile, chromedp.EmulateScale(3))
	}
	return chromedp.EmulateViewport(width, height)
}

// Screenshot saves the whole page as dir/name.png for a person to look
// at; with an empty dir it does nothing. Tests never read it.
func Screenshot(dir, name string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		if dir == "" {
			return nil
		}
		var png []byte
		if err := chromedp.FullScreenshot(&png, 100).Do(ctx); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	})
}

// HorizontalOverflow is a script that returns how many CSS pixels the
// page's body is wider than the viewport (0 when it fits).
const HorizontalOverflow = `Math.max(0, document.documentElement.scrollWidth - window.innerWidth, document.body.scrollWidth - window.innerWidth)`
