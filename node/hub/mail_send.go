package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/licmesh/licmesh/mesh/confload"
	"github.com/licmesh/licmesh/node/hub/store"
)

// ErrMailOff is returned for a change that would send mail when the hub
// has no mail server configured.
var ErrMailOff = errors.New("hub: the hub sends no mail (smtp_host is not set)")

// smtpTimeout bounds connecting to the mail server and each command.
const smtpTimeout = 30 * time.Second

// mailService is the hub's mail: its templates, its mail server, and the
// sender loop's wake-up. Nil when the hub has no mail server.
type mailService struct {
	cfg       Config
	password  string
	templates *mailTemplates
	// wake nudges the sender after a commit that queued mail.
	wake chan struct{}
	// listenAddr is the address Run listens on, for links when
	// public_url is not set. Written before the server starts.
	listenAddr string
}

// newMailService reads the mail server's password and the templates;
// nil when cfg has no mail server.
func newMailService(cfg Config) (*mailService, error) {
	if cfg.SMTPHost == "" {
		return nil, nil
	}
	m := &mailService{cfg: cfg, wake: make(chan struct{}, 1), listenAddr: cfg.Listen}
	if cfg.SMTPPasswordFile != "" {
		b, err := confload.ReadFile(cfg.SMTPPasswordFile, 4<<10)
		if err != nil {
			return nil, fmt.Errorf("config: smtp_password_file: %w", err)
		}
		m.password = strings.TrimRight(string(b), "\r\n")
	}
	var err error
	if m.templates, err = loadMailTemplates(cfg.MailTemplatesDir); err != nil {
		return nil, err
	}
	return m, nil
}

// publicURL is the hub's base URL for links, without a trailing slash.
func (m *mailService) publicURL() string {
	if m.cfg.PublicURL != "" {
		return strings.TrimRight(m.cfg.PublicURL, "/")
	}
	return "https://" + m.listenAddr
}

// nudge wakes the sender; it never blocks.
func (m *mailService) nudge() {
	if m == nil {
		return
	}
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// outboxMessage is a mail as the outbox keeps it (sealed): everything the
// sender needs, rendered when the mail was queued.
type outboxMessage struct {
	To          string           `json:"to"`
	Subject     string           `json:"subject"`
	Text        string           `json:"text"`
	HTML        string           `json:"html"`
	Attachments []mailAttachment `json:"attachments,omitempty"`
}

type mailAttachment struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Data        []byte `json:"data"`
}

// mailLabel binds a sealed message to its outbox row.
func mailLabel(id store.MailID) string { return "mail:" + string(id) }

// enqueueMail renders a mail of kind to to and queues it in tx: it is sent
// after tx commits (nudge the sender then), and never if tx rolls back.
// d's links to the hub are filled in here.
func (s *Server) enqueueMail(ctx context.Context, tx *store.Tx, kind, to string, d mailData, now time.Time) error {
	if s.mail == nil {
		return ErrMailOff
	}
	d.Email = to
	d.HubURL = s.mail.publicURL()
	d.SignInURL = d.HubURL + "/"
	subject, text, html, err := s.mail.templates.render(kind, d)
	if err != nil {
		return err
	}
	msg := outboxMessage{To: to, Subject: subject, Text: text, HTML: html}
	if d.License != nil {
		msg.Attachments = append(msg.Attachments, mailAttachment{Name: d.License.FileName, ContentType: "text/plain", Data: []byte(d.License.Text)})
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	id := store.NewMailID()
	return tx.EnqueueMail(ctx, store.Mail{ID: id, Kind: kind, To: to, Message: s.key.seal(b, mailLabel(id)), CreatedAt: now})
}

// openMail unseals an outbox message.
func (s *Server) openMail(m store.Mail) (outboxMessage, error) {
	var msg outboxMessage
	b, err := s.key.open(m.Message, mailLabel(m.ID))
	if err != nil {
		return msg, err
	}
	return msg, json.Unmarshal(b, &msg)
}

// send hands one message to the mail server. The Message-ID is the
// outbox ID's, so a mail sent twice (at least once means that can
// happen) is one message to the mail clients that check.
func (m *mailService) send(ctx context.Context, id store.MailID, msg outboxMessage, now time.Time) error {
	gm := gomail.NewMsg()
	if err := gm.From(m.cfg.MailFrom); err != nil {
		return fmt.Errorf("mail_from: %w", err)
	}
	if err := gm.To(msg.To); err != nil {
		return fmt.Errorf("recipient: %w", err)
	}
	host := "licmesh-hub"
	if u, err := url.Parse(m.publicURL()); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	gm.SetMessageIDWithValue(string(id) + "@" + host)
	gm.SetDateWithValue(now)
	gm.Subject(msg.Subject)
	gm.SetBodyString(gomail.TypeTextPlain, msg.Text)
	if msg.HTML != "" {
		gm.AddAlternativeString(gomail.TypeTextHTML, msg.HTML)
	}
	for _, a := range msg.Attachments {
		if err := gm.AttachReader(a.Name, bytes.NewReader(a.Data), gomail.WithFileContentType(gomail.ContentType(a.ContentType))); err != nil {
			return fmt.Errorf("attachment %s: %w", a.Name, err)
		}
	}
	opts := []gomail.Option{gomail.WithPort(m.cfg.smtpPort()), gomail.WithTimeout(smtpTimeout)}
	switch m.cfg.SMTPTLS {
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case "starttls":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case "tls":
		opts = append(opts, gomail.WithSSL())
	}
	if m.cfg.SMTPUsername != "" {
		// Over TLS, the strongest mechanism the server offers; without,
		// PLAIN, which go-mail sends only to a server on this host.
		auth := gomail.SMTPAuthAutoDiscover
		if m.cfg.SMTPTLS == "none" {
			auth = gomail.SMTPAuthPlain
		}
		opts = append(opts, gomail.WithSMTPAuth(auth), gomail.WithUsername(m.cfg.SMTPUsername), gomail.WithPassword(m.password))
	}
	c, err := gomail.NewClient(m.cfg.SMTPHost, opts...)
	if err != nil {
		return err
	}
	return c.DialAndSendWithContext(ctx, gm)
}

// permanentFailure reports whether the mail server refused the message
// for good (a 5xx to its recipient): trying again would not help. A
// refusal of anything else (our sign-in, our sender) is the operator's to
// fix, so it is retried.
func permanentFailure(err error) bool {
	var se *gomail.SendError
	return errors.As(err, &se) && se.Reason == gomail.ErrSMTPRcptTo && !se.IsTemp()
}
