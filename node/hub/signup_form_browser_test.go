package hub

import (
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/node/browsertest"
)

// TestBrowserSignUpForm drives the trial sign-up in headless Chromium as
// a prospect would: from the sign-in page to the form, a product chosen,
// the mail's link, the password, signed in; then the same pages at a
// phone's width. No console error, no CSP violation, nothing wider than
// the window.
func TestBrowserSignUpForm(t *testing.T) {
	mailSrv := startSMTP(t, "127.0.0.1:0", "hub", "smtp-secret")
	h := mailHub(t, mailSrv.Addr, func(c *Config) { c.SignupProducts = []string{"timesheet-pro"} })
	h.saveProduct(t, "timesheet-pro", "Timesheet Pro")
	b := browsertest.Start(t)
	base := h.url

	b.Run(t, "find the trial on the sign-in page",
		chromedp.Navigate(base+"/ui/login"),
		chromedp.WaitVisible("#start-trial", chromedp.ByQuery),
		chromedp.Click("#start-trial", chromedp.ByQuery),
		chromedp.WaitVisible("#signup-form", chromedp.ByQuery),
		shot("signup"),
	)
	fits(b, t, "/signup")
	var sent string
	b.Run(t, "sign up for the second product",
		chromedp.SendKeys("#email", "jane@acme.example", chromedp.ByQuery),
		chromedp.SendKeys("#company", "Acme Corp", chromedp.ByQuery),
		chromedp.SendKeys("#name", "Jane Doe", chromedp.ByQuery),
		chromedp.SetValue("#sku", "timesheet-pro", chromedp.ByQuery),
		chromedp.Click("#signup-form button[type=submit]", chromedp.ByQuery),
		chromedp.WaitVisible("#sent", chromedp.ByQuery),
		chromedp.Text("#sent", &sent, chromedp.ByQuery),
		shot("signup-sent"),
	)
	assert.Contains(t, sent, "We sent a mail to jane@acme.example")
	fits(b, t, "/signup (sent)")
	m := mailSrv.wait(t, 1)[0]
	assert.Equal(t, "Your Timesheet Pro trial: set your password", m.Subject)
	link := signupLink.FindString(m.Text)
	require.NotEmpty(t, link)

	var welcome string
	b.Run(t, "set the password from the mail's link",
		chromedp.Navigate(link),
		chromedp.WaitVisible("#password", chromedp.ByQuery),
		shot("signup-confirm"),
	)
	fits(b, t, "/signup/confirm")
	b.Run(t, "send it",
		chromedp.SendKeys("#password", "correct horse battery", chromedp.ByQuery),
		chromedp.SendKeys("#password2", "correct horse battery", chromedp.ByQuery),
		chromedp.Click("#signup-confirm button[type=submit]", chromedp.ByQuery),
		chromedp.WaitVisible("#welcome", chromedp.ByQuery),
		chromedp.Text("#welcome", &welcome, chromedp.ByQuery),
		shot("signup-welcome"),
	)
	assert.Contains(t, welcome, "you are signed in as jane@acme.example")
	fits(b, t, "/signup/confirm (done)")
	b.Run(t, "go on to the portal", chromedp.Click("#signup-confirm a.button", chromedp.ByQuery), chromedp.WaitVisible("#portal", chromedp.ByQuery))

	require.Empty(t, b.Problems(), "the browser reported problems")

	b.Run(t, "become a phone, signed out", browsertest.Viewport(browsertest.PhoneWidth, browsertest.PhoneHeight), network.ClearBrowserCookies())
	b.Run(t, "phone: the form, refused",
		chromedp.Navigate(base+"/signup"),
		chromedp.WaitVisible("#signup-form", chromedp.ByQuery),
		// The browser's own checks would stop these; the hub's answer is
		// what is drawn here.
		chromedp.Evaluate(`document.querySelectorAll('#signup-form [required]').forEach(e => e.removeAttribute('required'))`, nil),
		chromedp.SendKeys("#email", "john@acme.example", chromedp.ByQuery),
		chromedp.Click("#signup-form button[type=submit]", chromedp.ByQuery),
		chromedp.WaitVisible(`#company[aria-invalid="true"]`, chromedp.ByQuery),
		shot("phone-signup-refused"),
	)
	fits(b, t, "phone /signup (refused)")
	// Chromium logs the refusal's status as an error; it is the only one
	// expected.
	problems := b.Problems()
	require.Len(t, problems, 1, "the browser reported problems")
	assert.Contains(t, problems[0], "status of 400")
	assert.True(t, strings.HasSuffix(problems[0], base+"/signup"), problems[0])
	b.Run(t, "phone: the form, sent",
		chromedp.SendKeys("#company", "Acme Corp", chromedp.ByQuery),
		chromedp.Click("#signup-form button[type=submit]", chromedp.ByQuery),
		chromedp.WaitVisible("#sent", chromedp.ByQuery),
		shot("phone-signup-sent"),
	)
	fits(b, t, "phone /signup (sent)")
	link = signupLink.FindString(mailSrv.wait(t, 2)[1].Text)
	require.NotEmpty(t, link)
	b.Run(t, "phone: the link's page", chromedp.Navigate(link), chromedp.WaitVisible("#password", chromedp.ByQuery), shot("phone-signup-confirm"))
	fits(b, t, "phone /signup/confirm")
	b.Run(t, "phone: the sign-in page", chromedp.Navigate(base+"/ui/login"), chromedp.WaitVisible("#start-trial", chromedp.ByQuery))
	fits(b, t, "phone /ui/login")
	assert.Len(t, b.Problems(), 1, "the browser reported problems since the refusal: %q", b.Problems())
}
