package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	lalert "github.com/licmesh/licmesh/licensing/alert"
	"github.com/licmesh/licmesh/mesh/confload"
	"github.com/licmesh/licmesh/mesh/webhook"
	"github.com/licmesh/licmesh/node/hub/store"
)

// The vendor's alerts by webhook, beside the mail to the internal list:
// each alert fired is queued in the mail outbox, in the transaction that
// fires it, as a sealed JSON body of kind mailVendorWebhook, and posted by
// the outbox sender, signed as the masters sign theirs (mesh/webhook),
// with the outbox ID as its delivery ID: at least once, retried like mail.

const (
	// mailVendorWebhook is the outbox kind of a vendor alert's webhook.
	mailVendorWebhook = "vendor_alert_webhook"
	webhookTimeout    = 15 * time.Second
	minWebhookSecret  = 16
	maxWebhookSecret  = 256
)

type hubWebhook struct {
	url    string
	secret []byte
	client *http.Client
	wake   chan struct{}
}

// newHubWebhook reads the webhook's secret; nil when the hub has none.
func newHubWebhook(cfg Config) (*hubWebhook, error) {
	if cfg.AlertWebhookURL == "" {
		return nil, nil
	}
	b, err := confload.ReadFile(cfg.AlertWebhookSecretFile, 4<<10)
	if err != nil {
		return nil, fmt.Errorf("config: alert_webhook_secret_file: %w", err)
	}
	secret := []byte(strings.TrimRight(string(b), "\r\n"))
	if len(secret) < minWebhookSecret || len(secret) > maxWebhookSecret {
		return nil, fmt.Errorf("config: alert_webhook_secret_file: the secret has %d bytes, want %d to %d", len(secret), minWebhookSecret, maxWebhookSecret)
	}
	return &hubWebhook{url: cfg.AlertWebhookURL, secret: secret, client: webhook.NewClient(webhookTimeout), wake: make(chan struct{}, 1)}, nil
}

// VendorAlertBody is what the vendor's webhook receives.
type VendorAlertBody struct {
	Delivery string        `json:"delivery"`
	Hub      string        `json:"hub"`
	FiredAt  time.Time     `json:"fired_at"`
	Alert    webhook.Alert `json:"alert"`
}

// enqueueWebhook queues a fired alert's webhook in tx.
func (s *Server) enqueueWebhook(ctx context.Context, tx *store.Tx, a lalert.Alert, now time.Time) error {
	id := store.NewMailID()
	var b VendorAlertBody
	b.Delivery, b.Hub, b.FiredAt = string(id), publicURLOf(s.cfg.PublicURL, s.cfg.Listen), now.UTC()
	b.Alert = webhook.AlertOf(a)
	body, err := json.Marshal(b)
	if err != nil {
		return err
	}
	return tx.EnqueueMail(ctx, store.Mail{ID: id, Kind: mailVendorWebhook, To: webhook.Redact(s.hook.url),
		Message: s.key.seal(body, mailLabel(id)), CreatedAt: now})
}

// postWebhook makes one attempt at a queued webhook.
func (s *Server) postWebhook(ctx context.Context, m store.Mail) (hopeless bool, err error) {
	if s.hook == nil {
		return true, fmt.Errorf("the hub has no alert_webhook_url any more")
	}
	body, err := s.key.open(m.Message, mailLabel(m.ID))
	if err != nil {
		return true, err
	}
	return false, webhook.Post(ctx, s.hook.client, s.hook.url, s.hook.secret, string(m.ID), body, s.clk.Now())
}

// nudgeOutbox wakes the outbox sender after a commit that queued.
func (s *Server) nudgeOutbox() {
	s.mail.nudge()
	if s.hook != nil {
		select {
		case s.hook.wake <- struct{}{}:
		default:
		}
	}
}
