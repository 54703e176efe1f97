package hub

import (
	"net/mail"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/licmesh/licmesh/mesh/mailer"
	"github.com/licmesh/licmesh/mesh/webhook"
)

// validateMail checks the mail and sign-up settings, reporting each
// problem with bad.
func (c *Config) validateMail(bad func(field, format string, args ...any)) {
	c.mailServer("").Validate("smtp_", "mail_from", c.SMTPPasswordFile != "", bad)
	for _, e := range c.AlertEmails {
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
			bad("alert_emails", "%q is not an address like sales@vendor.example", e)
		}
	}
	if len(c.AlertEmails) > 0 && c.SMTPHost == "" {
		bad("alert_emails", "alerts are mailed: smtp_host is required")
	}
	if c.AlertWebhookURL != "" {
		u, err := url.Parse(c.AlertWebhookURL)
		switch {
		case err != nil || u.Host == "" || u.User != nil || (u.Scheme != "https" && u.Scheme != "http"):
			bad("alert_webhook_url", "%q: an https URL without credentials", webhook.Redact(c.AlertWebhookURL))
		case u.Scheme == "http" && !c.AlertWebhookHTTP:
			bad("alert_webhook_url", "%q: https only, unless alert_webhook_http is set", webhook.Redact(c.AlertWebhookURL))
		}
		if c.AlertWebhookSecretFile == "" {
			bad("alert_webhook_secret_file", "a webhook needs its signing secret")
		}
	} else if c.AlertWebhookSecretFile != "" {
		bad("alert_webhook_secret_file", "set without alert_webhook_url")
	}
	if c.AlertInterval < time.Second || c.AlertInterval > 24*time.Hour {
		bad("alert_interval", "%v: between 1s and 24h", c.AlertInterval)
	}
	if c.AlertSilentAfter < time.Hour || c.AlertSilentAfter > 90*24*time.Hour {
		bad("alert_silent_after", "%v: between 1h and 2160h", c.AlertSilentAfter)
	}
	if c.MailTemplatesDir != "" && !filepath.IsAbs(c.MailTemplatesDir) {
		bad("mail_templates_dir", "%q must be an absolute path", c.MailTemplatesDir)
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			bad("public_url", "%q: an http(s) URL like https://hub.example.com, without query or user", c.PublicURL)
		}
	}
	for _, sku := range c.signupSKUs() {
		if sku == "" || strings.ContainsAny(sku, " \t\r\n,") {
			bad("signup_products", "%q is not a SKU", sku)
		}
	}
	if c.SignupProduct == "" && len(c.SignupProducts) > 0 {
		bad("signup_product", "is required with signup_products (it is the default one)")
	}
	if c.SignupProduct != "" && c.SMTPHost == "" {
		bad("signup_product", "sign-up sends mail: smtp_host is required")
	}
	if c.SignupRate < 1 || c.SignupRate > 100000 {
		bad("signup_rate", "%d: 1 to 100000 sign-ups per address and hour", c.SignupRate)
	}
	if c.SignupLinkTTL < 10*time.Minute || c.SignupLinkTTL > 30*24*time.Hour {
		bad("signup_link_ttl", "%v: between 10m and 720h", c.SignupLinkTTL)
	}
}

// signupSKUs are the products a public sign-up may ask for, the default
// first; none when sign-up is off.
func (c *Config) signupSKUs() []string {
	if c.SignupProduct == "" {
		return nil
	}
	out := []string{c.SignupProduct}
	for _, s := range c.SignupProducts {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// mailServer is the hub's mail server as the mailer takes it, with password
// (read from smtp_password_file) when it is known.
func (c *Config) mailServer(password string) mailer.Config {
	return mailer.Config{Host: c.SMTPHost, Port: c.SMTPPort, TLS: c.SMTPTLS, Username: c.SMTPUsername, Password: password, From: c.MailFrom}
}
