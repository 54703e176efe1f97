package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/licmesh/licmesh/licensing/license"
)

// QuoteRequest is a site's request to buy, as the hub keeps it.
type QuoteRequest struct {
	ID        string
	ClusterID license.ClusterID
	SKU       string
	// Pool and Quantity are seats asked for, or Module a feature.
	Pool        string
	Quantity    int
	Module      string
	Reason      string
	RequestedBy string
	ApprovedBy  string
	RequestedAt time.Time
	ReceivedAt  time.Time
	// Answer is the vendor's, empty until it answers.
	Answer     string
	AnsweredBy string
	AnsweredAt time.Time
}

const quoteCols = `id, cluster_id, sku, pool, quantity, module, reason, requested_by, approved_by, requested_at, received_at, answer, answered_by, answered_at`

func scanQuote(r interface{ Scan(...any) error }) (QuoteRequest, error) {
	var q QuoteRequest
	var requested, received int64
	var answered sql.NullInt64
	err := r.Scan(&q.ID, &q.ClusterID, &q.SKU, &q.Pool, &q.Quantity, &q.Module, &q.Reason, &q.RequestedBy, &q.ApprovedBy,
		&requested, &received, &q.Answer, &q.AnsweredBy, &answered)
	q.RequestedAt, q.ReceivedAt, q.AnsweredAt = fromMS(requested), fromMS(received), fromNullMS(answered)
	return q, err
}

// ReceiveQuoteRequest stores a site's request unless the hub has it
// already (a site repeats a request until the hub acknowledges it), and
// reports whether it is new. A request of the same ID from another
// cluster is refused.
func (t *Tx) ReceiveQuoteRequest(ctx context.Context, q QuoteRequest) (bool, error) {
	if q.ID == "" || q.ClusterID == "" || q.SKU == "" || len(q.ID) > 64 || len(q.Reason) > 1000 {
		return false, fmt.Errorf("%w: quote request %q: an ID, a cluster and a product", ErrInvalid, q.ID)
	}
	r, err := t.exec(ctx, "quote request "+q.ID, `INSERT INTO quote_requests (`+quoteCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, '', '', NULL) ON CONFLICT (id) DO NOTHING`,
		q.ID, q.ClusterID, q.SKU, q.Pool, q.Quantity, q.Module, q.Reason, q.RequestedBy, q.ApprovedBy, ms(q.RequestedAt), ms(q.ReceivedAt))
	if err != nil {
		return false, err
	}
	if n, _ := r.RowsAffected(); n == 1 {
		return true, nil
	}
	var owner license.ClusterID
	if err := t.tx.QueryRowContext(ctx, `SELECT cluster_id FROM quote_requests WHERE id = $1`, q.ID).Scan(&owner); err != nil {
		return false, t.wrap("quote request "+q.ID, err)
	}
	if owner != q.ClusterID {
		return false, fmt.Errorf("%w: quote request %s belongs to another site", ErrConflict, q.ID)
	}
	return false, nil
}

// QuoteFilter selects quote requests.
type QuoteFilter struct {
	// Cluster keeps one site's; Open those not answered.
	Cluster license.ClusterID
	Open    bool
	Limit   int
}

// ListQuoteRequests returns the requests, the latest received first.
func (t *Tx) ListQuoteRequests(ctx context.Context, f QuoteFilter) ([]QuoteRequest, error) {
	if f.Limit <= 0 || f.Limit > 10_000 {
		f.Limit = 10_000
	}
	rows, err := t.tx.QueryContext(ctx, `SELECT `+quoteCols+` FROM quote_requests
		WHERE ($1 = '' OR cluster_id = $1) AND ($2 = 0 OR answered_at IS NULL) ORDER BY received_at DESC, id LIMIT $3`,
		string(f.Cluster), btoi(f.Open), f.Limit)
	if err != nil {
		return nil, t.wrap("quote requests", err)
	}
	return collect(rows, scanQuote)
}

// AnswerQuoteRequest records the vendor's answer; answering again replaces
// it.
func (t *Tx) AnswerQuoteRequest(ctx context.Context, id, answer, by string, at time.Time) error {
	if answer == "" || len(answer) > 1000 {
		return fmt.Errorf("%w: an answer of 1 to 1000 characters", ErrInvalid)
	}
	r, err := t.exec(ctx, "answer quote "+id, `UPDATE quote_requests SET answer = $2, answered_by = $3, answered_at = $4 WHERE id = $1`, id, answer, by, ms(at))
	if err != nil {
		return err
	}
	return affectedOne(r, "quote request "+id)
}
