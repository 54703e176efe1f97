package hub

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/browsertest"
)

// TestBrowserPublishRelease drives the releases page in headless Chromium:
// a release manager publishes a release with an artifact through the form
// (a bad version first, which the page says is wrong), and sees it listed;
// then a customer whose license covers it reads its changelog and
// downloads the artifact. No console error, no CSP violation.
func TestBrowserPublishRelease(t *testing.T) {
	h := startHub(t)
	ctx := t.Context()
	_, err := h.admin.SaveProduct(ctx, connect.NewRequest(&licmeshv1.SaveProductRequest{Product: seed002Product()}))
	require.NoError(t, err)
	co, err := h.admin.CreateCompany(ctx, connect.NewRequest(&licmeshv1.CreateCompanyRequest{Name: "Acme", Email: "it@acme.example"}))
	require.NoError(t, err)
	_, err = h.admin.IssueLicense(ctx, connect.NewRequest(&licmeshv1.IssueLicenseRequest{CompanyId: co.Msg.GetCompany().GetId(), Sku: "timesheet-admin", Quantity: 3}))
	require.NoError(t, err)
	password := map[string]string{}
	for email, role := range map[string]string{"rm@vendor.example": "release_manager", "jane@acme.example": "customer"} {
		company := ""
		if role == "customer" {
			company = co.Msg.GetCompany().GetId()
		}
		acc, err := h.admin.CreateAccount(ctx, connect.NewRequest(&licmeshv1.CreateAccountRequest{Email: email, Name: email, Role: role, CompanyId: company}))
		require.NoError(t, err)
		password[email] = acc.Msg.GetPassword()
	}
	artifact := filepath.Join(t.TempDir(), "meshd-linux-amd64")
	require.NoError(t, os.WriteFile(artifact, []byte("meshd 1.5.0 for linux/amd64"), 0o600))

	b := browsertest.Start(t)
	base := h.url
	browserSignIn(b, t, base, "rm@vendor.example", password["rm@vendor.example"], `nav a[href="/ui/releases"]`)
	var problem string
	b.Run(t, "fill in the publish form, with a bad version",
		chromedp.Click(`nav a[href="/ui/releases"]`, chromedp.ByQuery),
		chromedp.WaitVisible("#publish-form", chromedp.ByQuery),
		chromedp.SendKeys(`#publish-form input[name=version]`, "one", chromedp.ByQuery),
		chromedp.SetValue(`#publish-form select[name=channel]`, "beta", chromedp.ByQuery),
		chromedp.SendKeys(`#publish-notes`, "Faster sync for big sites.", chromedp.ByQuery),
		chromedp.SetValue(`#publish-changelog`, "- sync: 3x faster\n- collector: new spool", chromedp.ByQuery),
		chromedp.SendKeys(`#publish-form input[name=doc_url]`, "https://docs.example.com/1.5", chromedp.ByQuery),
		chromedp.SetUploadFiles(`#publish-artifacts`, []string{artifact}, chromedp.ByQuery),
		chromedp.Click("#publish-button", chromedp.ByQuery),
		chromedp.WaitVisible("#publish-problem", chromedp.ByQuery),
		chromedp.Text("#publish-problem", &problem, chromedp.ByQuery),
		shot("release-refused"),
	)
	assert.Contains(t, problem, `"one"`, "the page says what was wrong")
	assert.Empty(t, storedReleases(t, h), "a refused upload publishes nothing")

	var flash, listed string
	b.Run(t, "correct the version and publish",
		chromedp.SetValue(`#publish-form input[name=version]`, "1.5.0", chromedp.ByQuery),
		chromedp.Click("#publish-button", chromedp.ByQuery),
		chromedp.WaitVisible(`article[data-version="1.5.0"]`, chromedp.ByQuery),
		chromedp.Text("#flash", &flash, chromedp.ByQuery),
		chromedp.Text(`article[data-version="1.5.0"]`, &listed, chromedp.ByQuery),
		shot("releases-manager"),
	)
	assert.Equal(t, "Release 1.5.0 published.", flash)
	assert.Contains(t, listed, "beta")
	assert.Contains(t, listed, "Faster sync for big sites.")
	rs := storedReleases(t, h)
	require.Len(t, rs, 1)
	assert.Equal(t, "rm@vendor.example", rs[0].PublishedBy)
	assert.Equal(t, "https://docs.example.com/1.5", rs[0].DocURL)
	require.Len(t, rs[0].Artifacts, 1)
	assert.Equal(t, "1.5.0/meshd-linux-amd64", rs[0].Artifacts[0].Name)

	b.Run(t, "sign out", chromedp.Click(".signout button", chromedp.ByQuery), chromedp.WaitVisible("#email", chromedp.ByQuery))
	browserSignIn(b, t, base, "jane@acme.example", password["jane@acme.example"], "#portal")
	var changelog, doc string
	var links []string
	b.Run(t, "read the release as the customer",
		chromedp.Click(`nav a[href="/ui/releases"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`article[data-version="1.5.0"]`, chromedp.ByQuery),
		chromedp.Text(`article[data-version="1.5.0"] pre.changelog`, &changelog, chromedp.ByQuery),
		chromedp.AttributeValue(`article[data-version="1.5.0"] a.doc`, "href", &doc, nil, chromedp.ByQuery),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('article[data-version="1.5.0"] a.download')).map(a => a.getAttribute('href'))`, &links),
		shot("releases-customer"),
	)
	assert.Equal(t, "- sync: 3x faster\n- collector: new spool", changelog)
	assert.Equal(t, "https://docs.example.com/1.5", doc)
	assert.Equal(t, []string{"/v1/releases/artifacts/1.5.0/meshd-linux-amd64", "/v1/releases/bundle/1.5.0"}, links)
	b.Run(t, "download the artifact",
		b.AllowDownloads(t.TempDir()),
		chromedp.Click(`article[data-version="1.5.0"] a.download[href$="meshd-linux-amd64"]`, chromedp.ByQuery))
	assert.Equal(t, "meshd 1.5.0 for linux/amd64", string(b.Downloaded(t)), "the customer's session downloads it")

	b.Run(t, "become a phone", browsertest.Viewport(browsertest.PhoneWidth, browsertest.PhoneHeight),
		chromedp.Navigate(base+"/ui/releases"), chromedp.WaitVisible("main h1", chromedp.ByQuery), shot("phone-releases"))
	fits(b, t, "releases")
	// The refused upload's 400 is the one error the browser logs, by
	// design; anything else is a problem.
	var problems []string
	for _, p := range b.Problems() {
		if !strings.Contains(p, "status of 400") || !strings.HasSuffix(p, "/v1/releases") {
			problems = append(problems, p)
		}
	}
	assert.Empty(t, problems, "the browser reported problems")
}
