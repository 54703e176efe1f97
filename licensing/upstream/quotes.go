package upstream

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"time"

	"github.com/licmesh/licmesh/licensing/license"
)

// QuoteFormat is the payload format version of quote request files.
const QuoteFormat = 1

const maxQuotes = 100

// Quote is a site's request to buy: seats of a pool, or a module.
type Quote struct {
	ID          string    `json:"id"`
	SKU         string    `json:"sku"`
	Pool        string    `json:"pool,omitempty"`
	Quantity    int       `json:"quantity,omitempty"`
	Module      string    `json:"module,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	RequestedBy string    `json:"requested_by"`
	ApprovedBy  string    `json:"approved_by"`
	RequestedAt time.Time `json:"requested_at"`
}

// QuoteFile carries a site's approved purchase requests to its vendor's
// hub by hand, for a site with no internet: signed with the cluster key,
// which the hub knows from the site's activation.
type QuoteFile struct {
	Format    int               `json:"format"`
	ClusterID license.ClusterID `json:"cluster_id"`
	Quotes    []Quote           `json:"quotes"`
	CreatedAt time.Time         `json:"created_at"`
}

func (q QuoteFile) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: quote requests: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
	switch {
	case q.Format != QuoteFormat:
		return bad("format %d, this build reads %d", q.Format, QuoteFormat)
	case q.ClusterID.Validate() != nil:
		return bad("%v", q.ClusterID.Validate())
	case len(q.Quotes) == 0 || len(q.Quotes) > maxQuotes:
		return bad("%d requests, want 1 to %d", len(q.Quotes), maxQuotes)
	case q.CreatedAt.IsZero():
		return bad("created_at is missing")
	}
	for _, x := range q.Quotes {
		if err := firstErr(checkName("request id", x.ID), checkName("product", x.SKU)); err != nil {
			return bad("%v", err)
		}
		if (x.Pool == "") == (x.Module == "") || (x.Pool != "" && x.Quantity < 1) || len(x.Reason) > 1000 {
			return bad("request %s: seats of a pool or a module, one of them", x.ID)
		}
	}
	return nil
}

// SealQuotes signs q with the cluster key.
func SealQuotes(q QuoteFile, key ed25519.PrivateKey) (Signed, error) {
	if len(key) != ed25519.PrivateKeySize {
		return Signed{}, fmt.Errorf("%w: cluster key has %d bytes", ErrBadSignature, len(key))
	}
	q.Format = QuoteFormat
	if err := q.validate(); err != nil {
		return Signed{}, err
	}
	payload, _ := json.Marshal(q) // plain fields cannot fail
	return sign(quotesContext, key, "", payload), nil
}

// PeekQuotes returns the cluster a quote file names, unverified, to find
// its key.
func PeekQuotes(s Signed) (license.ClusterID, error) {
	var q QuoteFile
	if err := decodeStrict(s.Payload, MaxRequestBytes, &q, "quote requests"); err != nil {
		return "", err
	}
	return q.ClusterID, q.validate()
}

// OpenQuotes verifies a quote file with the cluster's registered key.
func OpenQuotes(s Signed, cluster license.ClusterID, pub ed25519.PublicKey) (*QuoteFile, error) {
	var q QuoteFile
	if err := decodeStrict(s.Payload, MaxRequestBytes, &q, "quote requests"); err != nil {
		return nil, err
	}
	if err := q.validate(); err != nil {
		return nil, err
	}
	if q.ClusterID != cluster {
		return nil, fmt.Errorf("%w: quote requests of %s, not %s", ErrMalformed, q.ClusterID, cluster)
	}
	if err := s.verify(quotesContext, pub); err != nil {
		return nil, fmt.Errorf("quote requests: %w", err)
	}
	return &q, nil
}
