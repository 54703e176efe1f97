package dashboard_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBrowserUpdates drives the Updates page in headless Chromium: the
// Download button turns into Install once the release is downloaded, the
// settings form saves, and a bundle picked in the file input is uploaded
// and verified.
func TestBrowserUpdates(t *testing.T) {
	f := newFakeUpdates()
	e := newTestEnv(t, withUpdates(f))
	ctx, problems := startBrowser(t)
	base := e.srv.URL
	row := `#releases tr[data-version="0.4.0"] `

	var buttons []string
	buttonsJS := `Array.from(document.querySelectorAll('#releases tr[data-version="0.4.0"] button')).map(b => b.innerText)`
	run(t, ctx, "sign in and open the updates page",
		chromedp.Navigate(base+"/ui/login"),
		chromedp.WaitVisible("#token", chromedp.ByQuery),
		chromedp.SendKeys("#token", adminToken, chromedp.ByQuery),
		chromedp.Click(".signin button[type=submit]", chromedp.ByQuery),
		chromedp.WaitVisible("#masters", chromedp.ByQuery),
		chromedp.Click(`nav a[href="/ui/updates"]`, chromedp.ByQuery),
		chromedp.WaitVisible(row+`button[data-action="download"]`, chromedp.ByQuery),
		chromedp.Evaluate(buttonsJS, &buttons),
		screenshot("updates"),
	)
	assert.Equal(t, []string{"Download"}, buttons, "before the download")

	var notice, state string
	run(t, ctx, "download",
		chromedp.Click(row+`button[data-action="download"]`, chromedp.ByQuery),
		chromedp.WaitVisible(row+`button[data-action="install"]`, chromedp.ByQuery),
		chromedp.Evaluate(buttonsJS, &buttons),
		chromedp.Text("#updates-notice", &notice, chromedp.ByQuery),
		chromedp.Text(row+"[data-state]", &state, chromedp.ByQuery),
		screenshot("updates-downloaded"),
	)
	assert.Equal(t, []string{"Install"}, buttons, "after the download")
	assert.Equal(t, "downloaded", state)
	assert.Contains(t, notice, "Release 0.4.0 is downloaded")

	var autoInstall, autoDownload bool
	var channel, every string
	run(t, ctx, "save the settings",
		chromedp.Click("#auto-install", chromedp.ByQuery),
		chromedp.SetValue("#channel", "beta", chromedp.ByQuery),
		chromedp.SetValue("#check-every", "12h", chromedp.ByQuery),
		// The download's notice goes, so that the next one is the save's.
		chromedp.Evaluate(`document.querySelector('#updates-notice').remove()`, nil),
		chromedp.Click("#save-settings", chromedp.ByQuery),
		chromedp.WaitVisible("#updates-notice", chromedp.ByQuery),
		chromedp.Text("#updates-notice", &notice, chromedp.ByQuery),
		chromedp.Navigate(base+"/ui/updates"),
		chromedp.WaitVisible("#settings-form", chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelector('#auto-install').checked`, &autoInstall),
		chromedp.Evaluate(`document.querySelector('#auto-download').checked`, &autoDownload),
		chromedp.Value("#channel", &channel, chromedp.ByQuery),
		chromedp.Value("#check-every", &every, chromedp.ByQuery),
	)
	assert.Equal(t, "Update settings saved.", notice)
	assert.False(t, autoInstall, "auto-install after saving it off")
	assert.True(t, autoDownload, "auto-download kept")
	assert.Equal(t, "beta", channel)
	assert.Equal(t, "12h", every)
	f.mu.Lock()
	require.Len(t, f.settings, 1)
	assert.Equal(t, int64(12*3600_000), f.settings[0].CheckEveryMs)
	f.mu.Unlock()

	bundle := filepath.Join(t.TempDir(), "licmesh-0.4.0.bundle")
	require.NoError(t, os.WriteFile(bundle, []byte("BUNDLE from the hub"), 0o600))
	run(t, ctx, "upload a bundle",
		chromedp.SetUploadFiles("#bundle-file", []string{bundle}, chromedp.ByQuery),
		chromedp.Click("#upload-bundle", chromedp.ByQuery),
		chromedp.WaitVisible("#updates-notice", chromedp.ByQuery),
		chromedp.Text("#updates-notice", &notice, chromedp.ByQuery),
		screenshot("updates-bundle"),
	)
	assert.Equal(t, "The bundle licmesh-0.4.0.bundle is verified and imported: verified 4 releases, stored 1 artifacts.", notice)
	f.mu.Lock()
	assert.Equal(t, []string{"BUNDLE from the hub"}, f.bundles)
	f.mu.Unlock()
	assert.Empty(t, problems(), "browser reported problems")
}
