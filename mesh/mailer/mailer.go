// Package mailer sends mail through an SMTP server (wneessen/go-mail): the
// hub's account and license mails and the masters' alerts. It holds the
// server settings both share and their checks, and sends one message at a
// time; queueing and retries are the caller's, kept in its own store.
package mailer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Timeout bounds connecting to the mail server and each command.
const Timeout = 30 * time.Second

// Config is a mail server and the sender's address.
type Config struct {
	// Host and Port are the server; Port 0 is TLS's usual one: 25, 587
	// (starttls) or 465 (tls).
	Host string
	Port int
	// TLS is none, starttls (refused if the server does not offer it) or
	// tls.
	TLS string
	// Username and Password authenticate, both or neither.
	Username, Password string
	// From is the sender, "Name <user@host>" or "user@host".
	From string
}

// Validate reports each problem with bad, under the names prefix+"host",
// prefix+"port", prefix+"tls", prefix+"username" and from (the settings'
// names in the caller's configuration). hasPassword says a password is
// configured (it is read later, from a file).
func (c Config) Validate(prefix, from string, hasPassword bool, bad func(field, format string, args ...any)) {
	switch c.TLS {
	case "none", "starttls", "tls":
	default:
		bad(prefix+"tls", "%q: none, starttls or tls", c.TLS)
	}
	if c.Port < 0 || c.Port > 65535 {
		bad(prefix+"port", "%d: 1 to 65535, or 0 for the usual port of %stls", c.Port, prefix)
	}
	if (c.Username == "") != !hasPassword {
		bad(prefix+"username", "give %susername and %spassword_file, or neither", prefix, prefix)
	}
	if c.Username != "" && c.TLS == "none" && !LoopbackHost(c.Host) {
		bad(prefix+"username", "a password is sent without TLS (%stls none) only to a mail server on this host", prefix)
	}
	if c.Host == "" && (c.Username != "" || c.Port != 0) {
		bad(prefix+"host", "is required with %sport and %susername", prefix, prefix)
	}
	if c.From != "" {
		if _, err := mail.ParseAddress(c.From); err != nil {
			bad(from, "%q is not an address (\"Name <user@host>\" or \"user@host\")", c.From)
		}
	} else if c.Host != "" {
		bad(from, "is required with %shost", prefix)
	}
}

// PortOrDefault is Port, or TLS's usual port when it is 0.
func (c Config) PortOrDefault() int {
	switch {
	case c.Port != 0:
		return c.Port
	case c.TLS == "tls":
		return 465
	case c.TLS == "starttls":
		return 587
	}
	return 25
}

// LoopbackHost reports whether host is this machine.
func LoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Message is one mail.
type Message struct {
	// ID makes the Message-ID, ID@IDHost: the same ID sent twice (a retry
	// after a lost answer) is the same message to a reader's mail client.
	ID, IDHost  string
	To          []string
	Subject     string
	Text, HTML  string
	Date        time.Time
	Attachments []Attachment
}

// Attachment is a file sent with a message.
type Attachment struct {
	Name, ContentType string
	Data              []byte
}

// Send sends m through the server c names.
func Send(ctx context.Context, c Config, m Message) error {
	gm := gomail.NewMsg()
	if err := gm.From(c.From); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	if err := gm.To(m.To...); err != nil {
		return fmt.Errorf("recipient: %w", err)
	}
	gm.SetMessageIDWithValue(m.ID + "@" + m.IDHost)
	gm.SetDateWithValue(m.Date)
	gm.Subject(m.Subject)
	gm.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		gm.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	for _, a := range m.Attachments {
		if err := gm.AttachReader(a.Name, bytes.NewReader(a.Data), gomail.WithFileContentType(gomail.ContentType(a.ContentType))); err != nil {
			return fmt.Errorf("attachment %s: %w", a.Name, err)
		}
	}
	opts := []gomail.Option{gomail.WithPort(c.PortOrDefault()), gomail.WithTimeout(Timeout)}
	switch c.TLS {
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case "starttls":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case "tls":
		opts = append(opts, gomail.WithSSL())
	}
	if c.Username != "" {
		// Over TLS, the strongest mechanism the server offers; without,
		// PLAIN, which go-mail sends only to a server on this host.
		auth := gomail.SMTPAuthAutoDiscover
		if c.TLS == "none" {
			auth = gomail.SMTPAuthPlain
		}
		opts = append(opts, gomail.WithSMTPAuth(auth), gomail.WithUsername(c.Username), gomail.WithPassword(c.Password))
	}
	client, err := gomail.NewClient(c.Host, opts...)
	if err != nil {
		return err
	}
	return client.DialAndSendWithContext(ctx, gm)
}

// PermanentFailure reports whether the mail server refused the message
// for good (a 5xx to its recipient): trying again would not help. A
// refusal of anything else (the sign-in, the sender) is the operator's to
// fix, so it is worth retrying.
func PermanentFailure(err error) bool {
	var se *gomail.SendError
	return errors.As(err, &se) && se.Reason == gomail.ErrSMTPRcptTo && !se.IsTemp()
}
