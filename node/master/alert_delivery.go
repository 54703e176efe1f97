package master

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/licensing/alert"
	"github.com/licmesh/licmesh/mesh/mailer"
	"github.com/licmesh/licmesh/mesh/webhook"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/fsm"
)

// Delivery of alerts to their channels, by the leader. Each attempt is
// committed (fsm.AlertDelivered) before the next is made, so a new leader
// carries on from the last one recorded; an attempt whose outcome was not
// recorded is made again, with the same delivery ID, which receivers use
// to drop the repeat.
const (
	deliveryBatch   = 20
	deliveryTimeout = 15 * time.Second
	firstRetry      = 10 * time.Second
	maxRetry        = time.Hour
)

// WebhookBody is what a webhook receives.
type WebhookBody struct {
	Delivery  string        `json:"delivery"`
	ClusterID string        `json:"cluster_id"`
	Test      bool          `json:"test,omitempty"`
	FiredAt   time.Time     `json:"fired_at"`
	Alert     webhook.Alert `json:"alert"`
}

// deliverLoop is the leader's: it makes the deliveries that are due, every
// second.
func (s *Server) deliverLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if err := s.deliverDue(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("alert delivery failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// deliverDue makes one attempt at each delivery due now, a batch at a
// time, and commits each outcome.
func (s *Server) deliverDue(ctx context.Context) error {
	now := s.now()
	due := s.fsm.Deliveries(fsm.DeliveryFilter{DueBy: now.UnixMilli(), Limit: deliveryBatch})
	if len(due) == 0 {
		return nil
	}
	channels := map[string]fsm.AlertChannel{}
	for _, c := range s.fsm.AlertChannels() {
		channels[c.ID] = c
	}
	for _, d := range due {
		ch, ok := channels[d.Channel]
		var err error
		switch {
		case ok:
			err = s.deliver(ctx, ch, d)
		case strings.HasPrefix(d.Channel, "user:"):
			// A person's own mail goes to the address they set now.
			ch = fsm.AlertChannel{ID: d.Channel, Kind: fsm.ChannelEmail}
			u, found := s.fsm.User(strings.TrimPrefix(d.Channel, "user:"))
			if found && !u.Disabled && u.Alerts != nil && u.Alerts.Email != "" {
				ch.Emails = []string{u.Alerts.Email}
				err = s.deliver(ctx, ch, d)
			} else {
				err = errors.New("the person's account is gone or disabled, or has no alert e-mail address")
			}
		default:
			continue // removed: its deliveries go with it
		}
		res := fsm.AlertDelivered{ID: d.ID, OK: err == nil, Now: s.now().UnixMilli()}
		if err != nil {
			res.Error = clipError(err.Error())
			res.NextAt = s.now().Add(retryAfter(d.Attempts)).UnixMilli()
			s.log.Warn("alert not delivered", "delivery", d.ID, "attempt", d.Attempts+1, "err", res.Error)
		} else {
			s.log.Info("alert delivered", "delivery", d.ID, "channel", ch.ID)
		}
		if _, err := s.apply(ctx, fsm.AlertDeliveredType, res); err != nil {
			return err
		}
	}
	return nil
}

// retryAfter is the wait before attempt n+1: 10 s, doubling, at most an
// hour.
func retryAfter(attempts int) time.Duration {
	d := firstRetry
	for range attempts {
		d *= 2
		if d >= maxRetry {
			return maxRetry
		}
	}
	return d
}

func clipError(s string) string {
	if len(s) > 400 {
		return s[:400] + "..."
	}
	return s
}

// deliver makes one attempt at d through ch.
func (s *Server) deliver(ctx context.Context, ch fsm.AlertChannel, d fsm.Delivery) error {
	ctx, cancel := context.WithTimeout(ctx, deliveryTimeout)
	defer cancel()
	switch ch.Kind {
	case fsm.ChannelWebhook:
		return s.postWebhook(ctx, ch, d)
	case fsm.ChannelEmail:
		return s.mailAlert(ctx, ch, d)
	}
	return fmt.Errorf("channel %s: kind %q", ch.ID, ch.Kind)
}

func (s *Server) postWebhook(ctx context.Context, ch fsm.AlertChannel, d fsm.Delivery) error {
	var b WebhookBody
	b.Delivery, b.Test, b.FiredAt = d.ID, d.Test, time.UnixMilli(d.FiredAt).UTC()
	if sg, err := s.signingKey(); err == nil {
		b.ClusterID = sg.clusterID
	}
	b.Alert = webhook.AlertOf(d.Alert)
	body, err := json.Marshal(b)
	if err != nil {
		return err
	}
	return webhook.Post(ctx, s.webhookClient, ch.URL, []byte(ch.Secret), d.ID, body, s.now())
}

func (s *Server) mailAlert(ctx context.Context, ch fsm.AlertChannel, d fsm.Delivery) error {
	if s.cfg.SMTPHost == "" {
		return fmt.Errorf("no mail server: smtp_host is not set on this master")
	}
	cluster := "licmesh"
	if sg, err := s.signingKey(); err == nil {
		cluster = sg.clusterID
	}
	sum := sha256.Sum256([]byte(d.ID))
	subject := fmt.Sprintf("[licmesh %s] %s", d.Alert.Severity, d.Alert.Summary)
	if d.Test {
		subject = "[licmesh] test of alert channel " + ch.ID
	}
	text := fmt.Sprintf("%s\n\nAlert:    %s\nSeverity: %s\nFired:    %s\nCluster:  %s\nDelivery: %s\n\nSee the Alerts page of the cluster's dashboard, or `meshctl alert list`.\n",
		d.Alert.Summary, d.Alert.Key, d.Alert.Severity, time.UnixMilli(d.FiredAt).UTC().Format(time.RFC1123), cluster, d.ID)
	m := mailer.Message{ID: hex.EncodeToString(sum[:16]), IDHost: cluster + ".licmesh", To: slices.Clone(ch.Emails),
		Subject: subject, Text: text, Date: s.now()}
	return mailer.Send(ctx, s.cfg.mailServer(s.smtpPassword), m)
}

func channelToWire(c fsm.AlertChannel) *licmeshv1.AlertChannel {
	w := &licmeshv1.AlertChannel{Id: c.ID, Kind: c.Kind, Emails: slices.Clone(c.Emails), Url: redactQuery(c.URL), HasSecret: c.Secret != "",
		MinSeverity: string(c.MinSeverity), Disabled: c.Disabled, UpdatedAtMs: c.UpdatedAt, UpdatedBy: c.UpdatedBy, Audit: c.Audit}
	for _, k := range c.Kinds {
		w.Kinds = append(w.Kinds, string(k))
	}
	return w
}

// redactQuery hides a URL's query, where a receiver may keep a token.
func redactQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.RawQuery == "" {
		return raw
	}
	u.RawQuery = "redacted"
	return u.String()
}

func deliveryToWire(d fsm.Delivery) *licmeshv1.AlertDelivery {
	state := "pending"
	switch {
	case d.Done:
		state = "delivered"
	case d.Failed:
		state = "failed"
	}
	return &licmeshv1.AlertDelivery{Id: d.ID, Channel: d.Channel, AlertKey: d.Alert.Key, Summary: d.Alert.Summary, Test: d.Test,
		Attempts: uint32(d.Attempts), NextAtMs: d.NextAt, State: state, LastError: d.LastError, LastAtMs: d.LastAt, FiredAtMs: d.FiredAt}
}

func (h adminHandler) ListAlertChannels(ctx context.Context, _ *connect.Request[licmeshv1.ListAlertChannelsRequest]) (*connect.Response[licmeshv1.ListAlertChannelsResponse], error) {
	out := &licmeshv1.ListAlertChannelsResponse{}
	for _, c := range h.s.fsm.AlertChannels() {
		out.Channels = append(out.Channels, channelToWire(c))
	}
	return connect.NewResponse(out), nil
}

func (h adminHandler) SetAlertChannel(ctx context.Context, req *connect.Request[licmeshv1.SetAlertChannelRequest]) (*connect.Response[licmeshv1.SetAlertChannelResponse], error) {
	w := req.Msg.GetChannel()
	if w == nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: the channel is missing", ErrBadRequest))
	}
	ch := fsm.AlertChannel{ID: w.GetId(), Kind: w.GetKind(), Emails: w.GetEmails(), URL: w.GetUrl(), Secret: req.Msg.GetSecret(),
		MinSeverity: alert.Severity(w.GetMinSeverity()), Disabled: w.GetDisabled(), Audit: w.GetAudit(), UpdatedBy: adminCaller(ctx)}
	for _, k := range w.GetKinds() {
		ch.Kinds = append(ch.Kinds, alert.Kind(k))
	}
	if ch.Kind == fsm.ChannelWebhook && ch.Secret == "" {
		for _, old := range h.s.fsm.AlertChannels() {
			if old.ID == ch.ID && old.Kind == fsm.ChannelWebhook {
				ch.Secret = old.Secret // an update that does not change the key
			}
		}
	}
	switch {
	case ch.Kind == fsm.ChannelEmail && h.s.cfg.SMTPHost == "":
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("%w: e-mail channel %q: the masters send no mail (smtp_host is not set)", ErrBadRequest, ch.ID))
	case ch.Kind == fsm.ChannelWebhook && strings.HasPrefix(ch.URL, "http://") && !h.s.cfg.AlertWebhookHTTP:
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: webhook %q: the URL must be https (alert_webhook_http allows http)", ErrBadRequest, ch.ID))
	}
	cmd := fsm.SetAlertChannel{Channel: ch, Now: h.s.now().UnixMilli()}
	if _, err := h.s.apply(ctx, fsm.SetAlertChannelType, cmd); err != nil {
		return nil, toConnect(err)
	}
	h.s.log.Info("alert channel set", "channel", ch.ID, "kind", ch.Kind, "by", ch.UpdatedBy)
	for _, c := range h.s.fsm.AlertChannels() {
		if c.ID == ch.ID {
			return connect.NewResponse(&licmeshv1.SetAlertChannelResponse{Channel: channelToWire(c)}), nil
		}
	}
	return nil, connect.NewError(connect.CodeUnavailable, fmt.Errorf("master: channel %s was set but is not visible here yet", ch.ID))
}

func (h adminHandler) RemoveAlertChannel(ctx context.Context, req *connect.Request[licmeshv1.RemoveAlertChannelRequest]) (*connect.Response[licmeshv1.RemoveAlertChannelResponse], error) {
	if req.Msg.GetId() == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: the channel ID is missing", ErrBadRequest))
	}
	cmd := fsm.SetAlertChannel{Channel: fsm.AlertChannel{ID: req.Msg.GetId()}, Remove: true, Now: h.s.now().UnixMilli()}
	if _, err := h.s.apply(ctx, fsm.SetAlertChannelType, cmd); err != nil {
		return nil, toConnect(err)
	}
	h.s.log.Info("alert channel removed", "channel", req.Msg.GetId(), "by", adminCaller(ctx))
	return connect.NewResponse(&licmeshv1.RemoveAlertChannelResponse{}), nil
}

func (h adminHandler) TestAlertChannel(ctx context.Context, req *connect.Request[licmeshv1.TestAlertChannelRequest]) (*connect.Response[licmeshv1.TestAlertChannelResponse], error) {
	if req.Msg.GetId() == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: the channel ID is missing", ErrBadRequest))
	}
	res, err := h.s.apply(ctx, fsm.TestAlertChannelType, fsm.TestAlertChannel{Channel: req.Msg.GetId(), By: adminCaller(ctx), Now: h.s.now().UnixMilli()})
	if err != nil {
		return nil, toConnect(err)
	}
	out := &licmeshv1.TestAlertChannelResponse{}
	if r, ok := res.(fsm.Response); ok && len(r.Alerts) == 1 {
		out.Delivery = r.Alerts[0]
	}
	return connect.NewResponse(out), nil
}

func (h adminHandler) ListAlertDeliveries(ctx context.Context, req *connect.Request[licmeshv1.ListAlertDeliveriesRequest]) (*connect.Response[licmeshv1.ListAlertDeliveriesResponse], error) {
	out := &licmeshv1.ListAlertDeliveriesResponse{}
	for _, d := range h.s.fsm.Deliveries(fsm.DeliveryFilter{Channel: req.Msg.GetChannel(), Limit: int(req.Msg.GetLimit())}) {
		out.Deliveries = append(out.Deliveries, deliveryToWire(d))
	}
	return connect.NewResponse(out), nil
}
