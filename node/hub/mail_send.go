package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/licmesh/licmesh/mesh/confload"
	"github.com/licmesh/licmesh/mesh/mailer"
	"github.com/licmesh/licmesh/node/hub/store"
)

// ErrMailOff is returned for a change that would send mail when the hub
// has no mail server configured.
var ErrMailOff = errors.New("hub: the hub sends no mail (smtp_host is not set)")

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
func (m *mailService) publicURL() string { return publicURLOf(m.cfg.PublicURL, m.listenAddr) }

// publicURLOf is the hub's base URL for links, without a trailing slash:
// public_url, or the address the hub listens on.
func publicURLOf(public, listen string) string {
	if public != "" {
		return strings.TrimRight(public, "/")
	}
	return "https://" + listen
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
	host := "licmesh-hub"
	if u, err := url.Parse(m.publicURL()); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	out := mailer.Message{ID: string(id), IDHost: host, To: []string{msg.To}, Subject: msg.Subject, Text: msg.Text, HTML: msg.HTML, Date: now}
	for _, a := range msg.Attachments {
		out.Attachments = append(out.Attachments, mailer.Attachment{Name: a.Name, ContentType: a.ContentType, Data: a.Data})
	}
	return mailer.Send(ctx, m.cfg.mailServer(m.password), out)
}
