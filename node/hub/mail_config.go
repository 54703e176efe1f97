package hub

import (
	"net/mail"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// validateMail checks the mail and sign-up settings, reporting each
// problem with bad.
func (c *Config) validateMail(bad func(field, format string, args ...any)) {
	switch c.SMTPTLS {
	case "none", "starttls", "tls":
	default:
		bad("smtp_tls", "%q: none, starttls or tls", c.SMTPTLS)
	}
	if c.SMTPPort < 0 || c.SMTPPort > 65535 {
		bad("smtp_port", "%d: 1 to 65535, or 0 for the usual port of smtp_tls", c.SMTPPort)
	}
	if (c.SMTPUsername == "") != (c.SMTPPasswordFile == "") {
		bad("smtp_username", "give smtp_username and smtp_password_file, or neither")
	}
	if c.SMTPUsername != "" && c.SMTPTLS == "none" && !loopbackHost(c.SMTPHost) {
		bad("smtp_username", "a password is sent without TLS (smtp_tls none) only to a mail server on this host")
	}
	if c.SMTPHost == "" && (c.SMTPUsername != "" || c.SMTPPort != 0) {
		bad("smtp_host", "is required with smtp_port and smtp_username")
	}
	if c.MailFrom != "" {
		if _, err := mail.ParseAddress(c.MailFrom); err != nil {
			bad("mail_from", "%q is not an address (\"Name <user@host>\" or \"user@host\")", c.MailFrom)
		}
	} else if c.SMTPHost != "" {
		bad("mail_from", "is required with smtp_host")
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

// loopbackHost reports whether host is this host (go-mail's rule for
// sending a password without TLS).
func loopbackHost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// smtpPort is the port to reach the mail server on.
func (c *Config) smtpPort() int {
	switch {
	case c.SMTPPort != 0:
		return c.SMTPPort
	case c.SMTPTLS == "tls":
		return 465
	case c.SMTPTLS == "starttls":
		return 587
	default:
		return 25
	}
}
