package hub

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/licmesh/licmesh/node/hub/mailtemplates"
)

// Mail kinds: each has its three templates in mailtemplates.
const (
	mailSignup         = "signup"          // a set-password link, and the trial license when there is one
	mailSignupExisting = "signup_existing" // a sign-up for an address whose account is in use
	mailTrial          = "trial"           // a trial license a reseller started, to its customer
	mailVendorAlert    = "vendor_alert"    // one of the vendor's alerts, to its internal list
	mailRelease        = "release"         // a new release, to a list (the default template)
	mailReleaseUrgent  = "release_urgent"  // a release everyone should take soon
)

// releaseTemplates are the kinds a publisher may choose for a release's
// announcement.
var releaseTemplates = []string{mailRelease, mailReleaseUrgent}

var mailKinds = []string{mailSignup, mailSignupExisting, mailTrial, mailVendorAlert, mailRelease, mailReleaseUrgent}

// mailData is what a mail template is executed with.
type mailData struct {
	Email   string
	Company string
	Product string // the product's name
	SKU     string
	// HubURL is the hub's public URL; SignInURL where to sign in.
	HubURL    string
	SignInURL string
	// SetPasswordURL is the one-time sign-up link, valid until
	// LinkExpiresAt.
	SetPasswordURL string
	LinkExpiresAt  time.Time
	// Again is set when the link replaces one sent before (the same
	// address signed up again before setting its password).
	Again bool
	// License is the license the mail carries (also attached), if any.
	License *mailLicense
	// Alert is the vendor alert the mail tells of, if any.
	Alert *mailAlert
	// Release is the release the mail announces, if any.
	Release *releaseMail
}

// releaseMail is a release as its announcement shows it.
type releaseMail struct {
	Product, Version, Channel, Notes, Changelog, DocURL, VideoURL string
}

// mailAlert is a vendor alert as a mail shows it.
type mailAlert struct {
	Key, Severity, Summary string
}

// mailLicense is a license as a mail shows it.
type mailLicense struct {
	ID        string
	Type      string
	ExpiresAt time.Time
	Text      string
	FileName  string
}

// templateFuncs are the functions templates may call.
var templateFuncs = map[string]any{
	"date": func(t time.Time) string { return t.UTC().Format("2 January 2006 15:04 UTC") },
}

// mailTemplates are the parsed templates of every kind.
type mailTemplates struct {
	subject map[string]*texttemplate.Template
	text    map[string]*texttemplate.Template
	html    map[string]*htmltemplate.Template
}

// loadMailTemplates parses every template, each from dir when the file
// is there and built in otherwise, and tries each on sample data, so that
// a broken template stops the hub at start rather than a mail later.
func loadMailTemplates(dir string) (*mailTemplates, error) {
	mt := &mailTemplates{subject: map[string]*texttemplate.Template{}, text: map[string]*texttemplate.Template{}, html: map[string]*htmltemplate.Template{}}
	read := func(name string) (string, error) {
		if dir != "" {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err == nil {
				return string(b), nil
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("config: mail_templates_dir: %w", err)
			}
		}
		b, err := fs.ReadFile(mailtemplates.FS(), name)
		return string(b), err
	}
	for _, kind := range mailKinds {
		for _, part := range []string{".subject.txt", ".txt"} {
			src, err := read(kind + part)
			if err != nil {
				return nil, err
			}
			t, err := texttemplate.New(kind + part).Option("missingkey=error").Funcs(templateFuncs).Parse(src)
			if err != nil {
				return nil, fmt.Errorf("config: mail template %s: %w", kind+part, err)
			}
			if part == ".txt" {
				mt.text[kind] = t
			} else {
				mt.subject[kind] = t
			}
		}
		src, err := read(kind + ".html")
		if err != nil {
			return nil, err
		}
		t, err := htmltemplate.New(kind + ".html").Option("missingkey=error").Funcs(templateFuncs).Parse(src)
		if err != nil {
			return nil, fmt.Errorf("config: mail template %s.html: %w", kind, err)
		}
		mt.html[kind] = t
		sample := mailData{Email: "user@example.com", Company: "Example", Product: "Product", SKU: "sku", HubURL: "https://hub.example.com",
			SignInURL: "https://hub.example.com/", SetPasswordURL: "https://hub.example.com/signup/confirm?token=x", LinkExpiresAt: time.Unix(0, 0),
			License: &mailLicense{ID: "lic_x", Type: "trial", ExpiresAt: time.Unix(0, 0), Text: "license", FileName: "lic_x.lic"},
			Alert:   &mailAlert{Key: "license_expiry/lic_x/15d", Severity: "warning", Summary: "license lic_x expires in 15 days"},
			Release: &releaseMail{Product: "licmesh", Version: "1.2.0", Channel: "stable", Notes: "notes", Changelog: "- a fix", DocURL: "https://docs.example.com", VideoURL: "https://video.example.com"}}
		if _, _, _, err := mt.render(kind, sample); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
	}
	return mt, nil
}

// render makes a mail of kind: its subject (one line), text and HTML.
func (mt *mailTemplates) render(kind string, d mailData) (subject, text, html string, err error) {
	var b bytes.Buffer
	if err := mt.subject[kind].Execute(&b, d); err != nil {
		return "", "", "", fmt.Errorf("mail template %s.subject.txt: %w", kind, err)
	}
	// A subject is one header line, whatever the template says.
	subject = strings.Join(strings.Fields(b.String()), " ")
	b.Reset()
	if err := mt.text[kind].Execute(&b, d); err != nil {
		return "", "", "", fmt.Errorf("mail template %s.txt: %w", kind, err)
	}
	text = b.String()
	b.Reset()
	if err := mt.html[kind].Execute(&b, d); err != nil {
		return "", "", "", fmt.Errorf("mail template %s.html: %w", kind, err)
	}
	return subject, text, b.String(), nil
}
