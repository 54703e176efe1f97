package hub

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/licmesh/licmesh/mesh/mailer/mailertest"
)

// smtpServer is the real SMTP server of mailertest, read as the hub's
// tests read mail.
type smtpServer struct{ *mailertest.Server }

// receivedMail is one message as the server took it.
type receivedMail = mailertest.Mail

// startSMTP serves SMTP on addr ("127.0.0.1:0" for any port) until the
// test ends; with a username it requires AUTH PLAIN.
func startSMTP(t testing.TB, addr, user, pass string) *smtpServer {
	t.Helper()
	return &smtpServer{mailertest.Start(t, addr, user, pass)}
}

// mails returns what the server has taken so far.
func (s *smtpServer) mails() []receivedMail { return s.Mails() }

// wait waits for n messages in all and returns them, parsed.
func (s *smtpServer) wait(t testing.TB, n int) []parsedMail {
	t.Helper()
	var out []parsedMail
	for _, m := range s.Wait(t, n) {
		out = append(out, parseMail(t, m))
	}
	return out
}

// parsedMail is a received message as a reader sees it.
type parsedMail struct {
	Envelope    receivedMail
	Header      mail.Header
	Subject     string
	Text, HTML  string
	Attachments map[string]string
}

// parseMail reads a MIME message: its text and HTML parts and its
// attachments, decoded.
func parseMail(t testing.TB, r receivedMail) parsedMail {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(r.Raw))
	require.NoError(t, err)
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	require.NoError(t, err)
	p := parsedMail{Envelope: r, Header: m.Header, Subject: subject, Attachments: map[string]string{}}
	var walk func(ctype, cte, disposition string, body io.Reader)
	walk = func(ctype, cte, disposition string, body io.Reader) {
		mt, params, err := mime.ParseMediaType(ctype)
		require.NoError(t, err)
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				part, err := mr.NextPart()
				if err == io.EOF {
					return
				}
				require.NoError(t, err)
				walk(part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part.Header.Get("Content-Disposition"), part)
			}
		}
		if strings.EqualFold(cte, "base64") {
			body = base64.NewDecoder(base64.StdEncoding, body)
		}
		b, err := io.ReadAll(body)
		require.NoError(t, err)
		if d, dp, err := mime.ParseMediaType(disposition); err == nil && d == "attachment" {
			p.Attachments[dp["filename"]] = string(b)
			return
		}
		// Mail lines end in CRLF; a reader sees lines.
		text := strings.ReplaceAll(string(b), "\r\n", "\n")
		switch mt {
		case "text/plain":
			p.Text = text
		case "text/html":
			p.HTML = text
		}
	}
	walk(m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), "", m.Body)
	return p
}

func TestMailTemplatesFromDiskOverrideFileByFile(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "signup.subject.txt"), []byte("Welcome to {{.Product}},\n {{.Company}}\n"), 0o600))
	mt, err := loadMailTemplates(dir)
	require.NoError(t, err)
	subject, text, html, err := mt.render(mailSignup, mailData{Email: "a@b.example", Company: "Acme", Product: "Timesheet",
		SetPasswordURL: "https://hub.example/signup/confirm?token=t<x>", LinkExpiresAt: t0,
		License: &mailLicense{ID: "lic_1", Type: "trial", ExpiresAt: t0, Text: "LICENSE", FileName: "lic_1.lic"}})
	require.NoError(t, err)
	assert.Equal(t, "Welcome to Timesheet, Acme", subject, "from the disk, on one line")
	assert.Contains(t, text, "https://hub.example/signup/confirm?token=t<x>", "the built-in text template")
	assert.Contains(t, text, "LICENSE")
	assert.Contains(t, html, "token=t%3cx%3e", "html/template escapes what it puts in a link")
	assert.Contains(t, text, "2 November 2026 09:00 UTC")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "trial.html"), []byte("{{.NoSuchField}}"), 0o600))
	_, err = loadMailTemplates(dir)
	require.ErrorContains(t, err, "trial.html", "a template that fails on sample data stops the hub at start")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "trial.html"), []byte("{{if}}"), 0o600))
	_, err = loadMailTemplates(dir)
	require.ErrorContains(t, err, "trial.html")
}

func TestMailConfigIsValidated(t *testing.T) {
	good := func() Config {
		c := DefaultConfig()
		c.DataDir = "/var/lib/hub"
		c.SMTPHost, c.MailFrom, c.SignupProduct = "smtp.example.com", "Vendor <noreply@vendor.example>", "timesheet-admin"
		return c
	}
	c := good()
	require.NoError(t, c.Validate())
	assert.Equal(t, 587, c.mailServer("").PortOrDefault(), "starttls by default")
	for field, change := range map[string]func(*Config){
		"smtp_tls":           func(c *Config) { c.SMTPTLS = "ssl" },
		"smtp_port":          func(c *Config) { c.SMTPPort = 70000 },
		"smtp_username":      func(c *Config) { c.SMTPUsername = "u" },
		"smtp_host":          func(c *Config) { c.SMTPHost, c.SignupProduct = "", ""; c.SMTPPort = 25 },
		"mail_from":          func(c *Config) { c.MailFrom = "not an address" },
		"mail_templates_dir": func(c *Config) { c.MailTemplatesDir = "relative/dir" },
		"public_url":         func(c *Config) { c.PublicURL = "hub.example.com" },
		"signup_product":     func(c *Config) { c.SMTPHost, c.MailFrom = "", "" },
		"signup_products":    func(c *Config) { c.SignupProducts = []string{"a b"} },
		"signup_rate":        func(c *Config) { c.SignupRate = 0 },
		"signup_link_ttl":    func(c *Config) { c.SignupLinkTTL = time.Minute },
	} {
		c := good()
		change(&c)
		require.ErrorContains(t, c.Validate(), "config: "+field+":", field)
	}
	c = good()
	c.SMTPTLS, c.SMTPUsername, c.SMTPPasswordFile = "none", "u", "/etc/hub/smtp.pw"
	require.ErrorContains(t, c.Validate(), "smtp_username: a password is sent without TLS", "no password in clear over the network")
	c.SMTPHost = "127.0.0.1"
	require.NoError(t, c.Validate(), "but to a relay on this host")
}
