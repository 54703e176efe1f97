package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/e2e/harness"
)

const chromium = "/usr/bin/chromium"

// TestDashboardInBrowser signs in to a real master's dashboard in headless
// Chromium and reads the cluster, collectors and pools pages.
func TestDashboardInBrowser(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("LICMESH_REQUIRE_BROWSER") != "" {
			t.Fatalf("LICMESH_REQUIRE_BROWSER is set but there is no Chromium at %s", chromium)
		}
		t.Skip("!!! SKIPPING THE DASHBOARD BROWSER TEST: no Chromium at " + chromium + " (make deps as root installs it) !!!")
	}
	keyFile, trust := vendorKey(t)
	c, cols := startSite(t, harness.Options{ExtraArgs: []string{"--vendor-keys", trust}}, "designer", 5, "hard", 1)
	_, err := cols[0].Acquire("designer", "alice-session")
	require.NoError(t, err)
	tok, err := c.AdminToken()
	require.NoError(t, err)
	m := c.Masters[1] // any master serves the dashboard
	base := "https://" + m.APIAddr() + "/ui"

	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.IgnoreCertErrors)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	defer cancelT()

	st, err := m.Status()
	require.NoError(t, err)
	licFile := signLicense(t, keyFile, "lic-pasted", st.ClusterId, 4, time.Now().Add(10*24*time.Hour).UTC().Truncate(time.Second))
	licText, err := os.ReadFile(licFile)
	require.NoError(t, err)

	var refused, cluster, pools, pool, collectors, garbage, pasted string
	err = chromedp.Run(ctx,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(`#token`, chromedp.ByID),
		chromedp.SendKeys(`#token`, "lma1.aaaaaaaaaa.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", chromedp.ByID),
		chromedp.Submit(`#token`, chromedp.ByID),
		chromedp.WaitVisible(`p.banner`, chromedp.ByQuery),
		chromedp.Text(`body`, &refused, chromedp.ByQuery),
		chromedp.WaitVisible(`#token`, chromedp.ByID),
		chromedp.SendKeys(`#token`, tok, chromedp.ByID),
		chromedp.Submit(`#token`, chromedp.ByID),
		chromedp.WaitVisible(`nav`, chromedp.ByQuery),
		chromedp.Text(`body`, &cluster, chromedp.ByQuery),
		chromedp.Navigate(base+"/pools"),
		chromedp.WaitVisible(`svg`, chromedp.ByQuery),
		chromedp.Text(`body`, &pools, chromedp.ByQuery),
		chromedp.Navigate(base+"/pools/designer"),
		chromedp.WaitVisible(`table`, chromedp.ByQuery),
		chromedp.Text(`body`, &pool, chromedp.ByQuery),
		chromedp.Navigate(base+"/collectors"),
		chromedp.WaitVisible(`table`, chromedp.ByQuery),
		chromedp.Text(`body`, &collectors, chromedp.ByQuery),
		// The paste box: garbage is refused with the reason and the text
		// kept; the vendor's license, pasted with its armour, goes into
		// force through the master.
		chromedp.Navigate(base+"/licenses"),
		chromedp.WaitVisible(`#license-text`, chromedp.ByID),
		chromedp.SetValue(`#license-text`, "not a license", chromedp.ByID),
		chromedp.Click(`section.paste button`, chromedp.ByQuery),
		chromedp.WaitVisible(`#license-problem`, chromedp.ByID),
		chromedp.Text(`#license-problem`, &garbage, chromedp.ByID),
		chromedp.SetValue(`#license-text`, "Here is your license:\n\n"+string(licText)+"\nRegards,\nthe vendor", chromedp.ByID),
		chromedp.Click(`section.paste button`, chromedp.ByQuery),
		chromedp.WaitVisible(`p.notice`, chromedp.ByQuery),
		chromedp.Text(`body`, &pasted, chromedp.ByQuery),
	)
	require.NoError(t, err)
	// Pages can be long: a failure prints only the start of one.
	assert.True(t, strings.Contains(refused, "refused"), "a wrong token should be refused on the page: %.300s", refused)
	for _, want := range []string{"m1", "m2", "m3", c.Masters[0].APIAddr()} {
		assert.True(t, strings.Contains(cluster, want), "cluster page lacks %q:\n%.2000s", want, cluster)
	}
	assert.True(t, strings.Contains(pools, "designer"), "pools page lacks designer:\n%.2000s", pools)
	assert.True(t, strings.Contains(pools, "hard"), "pools page lacks hard:\n%.2000s", pools)
	assert.True(t, strings.Contains(pool, "alice-session"), "pool page lacks the lease:\n%.2000s", pool)
	assert.True(t, strings.Contains(collectors, "c-"), "collectors page lacks the collector:\n%.2000s", collectors)
	assert.Contains(t, strings.ToLower(garbage), "license", "pasting garbage")
	assert.True(t, strings.Contains(pasted, "lic-pasted"), "licenses page after pasting:\n%.2000s", pasted)
	assert.True(t, strings.Contains(pasted, "Designer Suite"), "licenses page after pasting:\n%.2000s", pasted)
	// In force on every master, not just the one whose page took it.
	for _, other := range c.Masters {
		assert.EventuallyWithT(t, func(c *assert.CollectT) {
			out, _, _ := other.Meshctl("license", "list", "-o", "csv")
			if !strings.Contains(out, "lic-pasted") || !strings.Contains(out, "active") {
				c.Errorf("%s: license list:\n%s", other.ID, out)
			}
		}, 5*time.Second, 50*time.Millisecond, "the pasted license in force on %s", other.ID)
	}
}
