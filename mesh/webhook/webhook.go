// Package webhook posts licmesh's signed webhooks, the masters' alert
// channels and the vendor hub's alerts alike: JSON, with an
// X-Licmesh-Delivery ID for the receiver to drop a repeat, and an
// HMAC-SHA256 signature over the timestamp and the body, keyed with the
// endpoint's secret, for it to know the sender.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/licmesh/licmesh/licensing/alert"
)

// Headers: the delivery's ID, the time it was signed (Unix seconds) and
// the signature, "sha256=" and the hex HMAC-SHA256, keyed with the
// endpoint's secret, of timestamp + "." + body.
const (
	HeaderDelivery  = "X-Licmesh-Delivery"
	HeaderTimestamp = "X-Licmesh-Timestamp"
	HeaderSignature = "X-Licmesh-Signature"
)

// Alert is an alert as a webhook body carries it, the masters' and the
// hub's alike.
type Alert struct {
	Key       string `json:"key"`
	Kind      string `json:"kind"`
	Subject   string `json:"subject"`
	Threshold string `json:"threshold,omitempty"`
	Severity  string `json:"severity"`
	Summary   string `json:"summary"`
}

// AlertOf is a as a webhook body carries it.
func AlertOf(a alert.Alert) Alert {
	return Alert{Key: a.Key, Kind: string(a.Kind), Subject: a.Subject, Threshold: a.Threshold, Severity: string(a.Severity), Summary: a.Summary}
}

// Sign is the signature of body made at ts with secret, as the header
// carries it.
func Sign(secret []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(ts, 10) + "."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig is body's signature made at ts with secret,
// and ts is within skew of now: what a receiver checks.
func Verify(secret []byte, ts int64, body []byte, sig string, now time.Time, skew time.Duration) bool {
	if d := now.Sub(time.Unix(ts, 0)); d > skew || d < -skew {
		return false
	}
	return hmac.Equal([]byte(sig), []byte(Sign(secret, ts, body)))
}

// ErrRefused wraps an answer other than 2xx.
var ErrRefused = errors.New("webhook: refused")

// Post sends body to rawURL as delivery, signed with secret at now. Its
// errors name the endpoint by scheme, host and path only: a query string
// may hold a token.
func Post(ctx context.Context, c *http.Client, rawURL string, secret []byte, delivery string, body []byte, now time.Time) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %s: %w", Redact(rawURL), err)
	}
	ts := now.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "licmesh-alerts")
	req.Header.Set(HeaderDelivery, delivery)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(secret, ts, body))
	resp, err := c.Do(req)
	if err != nil {
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err
		}
		return fmt.Errorf("webhook %s: %w", Redact(rawURL), err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%w: %s answered %s: %s", ErrRefused, Redact(rawURL), resp.Status, strings.TrimSpace(string(snippet)))
	}
	return nil
}

// Redact is rawURL without its query, fragment or credentials.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(bad url)"
	}
	return u.Scheme + "://" + u.Host + u.Path
}

// NewClient is an HTTP client for webhooks: a redirect is an answer, not a
// place to send the body on to.
func NewClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}
