package hub

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/licensing/upstream"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/hub/store"
)

// Sites' requests to buy (issue 17, procurement): they arrive with a
// site's daily license check (upstream_api.go), are listed for the
// vendor's staff here, and answered; the answer goes back to the site
// with its next check. The pack itself is issued as any license is.

// maxQuotesPerCheck bounds the requests one check carries.
const maxQuotesPerCheck = 100

// receiveQuotes stores the quote requests a check carries, for the site
// the check proved, and returns the IDs the hub now has, and the vendor's
// answers to the site's requests.
func receiveQuotes(ctx context.Context, tx *store.Tx, cluster license.ClusterID, qs []*licmeshv1.QuoteRequest, now time.Time) ([]string, []*licmeshv1.QuoteAnswer, error) {
	if len(qs) > maxQuotesPerCheck {
		return nil, nil, fmt.Errorf("%w: %d quote requests in one check, at most %d", ErrInvalidArgument, len(qs), maxQuotesPerCheck)
	}
	var got []string
	for _, q := range qs {
		r := store.QuoteRequest{ID: q.GetId(), ClusterID: cluster, SKU: q.GetSku(), Pool: q.GetPool(), Quantity: int(q.GetQuantity()),
			Module: q.GetModule(), Reason: q.GetReason(), RequestedBy: q.GetRequestedBy(), ApprovedBy: q.GetApprovedBy(),
			RequestedAt: time.UnixMilli(q.GetRequestedAtMs()).UTC(), ReceivedAt: now}
		if _, err := tx.ReceiveQuoteRequest(ctx, r); err != nil {
			return nil, nil, err
		}
		got = append(got, r.ID)
	}
	all, err := tx.ListQuoteRequests(ctx, store.QuoteFilter{Cluster: cluster})
	if err != nil {
		return nil, nil, err
	}
	var answers []*licmeshv1.QuoteAnswer
	for _, q := range all {
		if q.Answer != "" {
			answers = append(answers, &licmeshv1.QuoteAnswer{Id: q.ID, Answer: q.Answer, AnsweredAtMs: msOf(q.AnsweredAt)})
		}
	}
	return got, answers, nil
}

func (a *api) ListQuoteRequests(ctx context.Context, req *connect.Request[licmeshv1.ListQuoteRequestsRequest]) (*connect.Response[licmeshv1.ListQuoteRequestsResponse], error) {
	if _, _, err := who(ctx, actRead); err != nil {
		return nil, err
	}
	var out licmeshv1.ListQuoteRequestsResponse
	err := a.s.store.Read(ctx, func(tx *store.Tx) error {
		qs, err := tx.ListQuoteRequests(ctx, store.QuoteFilter{Open: req.Msg.GetOpen()})
		for _, q := range qs {
			h := &licmeshv1.HubQuoteRequest{ClusterId: string(q.ClusterID), ReceivedAtMs: msOf(q.ReceivedAt), Answer: q.Answer,
				AnsweredBy: q.AnsweredBy, AnsweredAtMs: msOf(q.AnsweredAt),
				Request: &licmeshv1.QuoteRequest{Id: q.ID, Sku: q.SKU, Pool: q.Pool, Quantity: uint32(q.Quantity), Module: q.Module,
					Reason: q.Reason, RequestedBy: q.RequestedBy, ApprovedBy: q.ApprovedBy, RequestedAtMs: msOf(q.RequestedAt)}}
			if site, err := tx.Site(ctx, q.ClusterID); err == nil {
				h.CompanyId = string(site.Company)
			}
			out.Requests = append(out.Requests, h)
		}
		return err
	})
	if err != nil {
		return nil, a.fail("ListQuoteRequests", err)
	}
	return res(&out), nil
}

func (a *api) AnswerQuoteRequest(ctx context.Context, req *connect.Request[licmeshv1.AnswerQuoteRequestRequest]) (*connect.Response[licmeshv1.AnswerQuoteRequestResponse], error) {
	p, remote, err := who(ctx, actAdmin, actManageLicense)
	if err != nil {
		return nil, err
	}
	id, answer := strings.TrimSpace(req.Msg.GetId()), strings.TrimSpace(req.Msg.GetAnswer())
	now := a.s.clk.Now()
	err = a.s.store.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.AnswerQuoteRequest(ctx, id, answer, p.actor(), now); err != nil {
			return err
		}
		return tx.Audit(ctx, store.AuditEntry{At: now, Actor: p.actor(), Action: "quote.answer", Target: id, Detail: answer, Remote: remote})
	})
	if err != nil {
		return nil, a.fail("AnswerQuoteRequest", err)
	}
	return res(&licmeshv1.AnswerQuoteRequestResponse{}), nil
}

func (a *api) ImportQuoteRequests(ctx context.Context, req *connect.Request[licmeshv1.ImportQuoteRequestsRequest]) (*connect.Response[licmeshv1.ImportQuoteRequestsResponse], error) {
	p, remote, err := who(ctx, actAdmin, actManageLicense)
	if err != nil {
		return nil, err
	}
	s, err := upstream.ParseSigned(req.Msg.GetFile(), upstream.MaxRequestBytes)
	if err != nil {
		return nil, a.fail("ImportQuoteRequests", fmt.Errorf("%w: %w", ErrInvalidArgument, err))
	}
	cluster, err := upstream.PeekQuotes(s)
	if err != nil {
		return nil, a.fail("ImportQuoteRequests", fmt.Errorf("%w: %w", ErrInvalidArgument, err))
	}
	now := a.s.clk.Now()
	out := &licmeshv1.ImportQuoteRequestsResponse{ClusterId: string(cluster)}
	err = a.s.store.Tx(ctx, func(tx *store.Tx) error {
		_, pub, err := siteKey(ctx, tx, cluster)
		if err != nil {
			return err
		}
		q, err := upstream.OpenQuotes(s, cluster, pub)
		if err != nil {
			if errors.Is(err, upstream.ErrBadSignature) {
				return fmt.Errorf("%w: %w", ErrSiteKey, err)
			}
			return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
		}
		for _, x := range q.Quotes {
			fresh, err := tx.ReceiveQuoteRequest(ctx, store.QuoteRequest{ID: x.ID, ClusterID: cluster, SKU: x.SKU, Pool: x.Pool,
				Quantity: x.Quantity, Module: x.Module, Reason: x.Reason, RequestedBy: x.RequestedBy, ApprovedBy: x.ApprovedBy,
				RequestedAt: x.RequestedAt, ReceivedAt: now})
			if err != nil {
				return err
			}
			out.Ids = append(out.Ids, x.ID)
			if fresh {
				out.Fresh++
			}
		}
		return tx.Audit(ctx, store.AuditEntry{At: now, Actor: p.actor(), Action: "quote.import", Target: string(cluster),
			Detail: fmt.Sprintf("%d requests, %d new", len(out.Ids), out.Fresh), Remote: remote})
	})
	if err != nil {
		return nil, a.fail("ImportQuoteRequests", err)
	}
	return res(out), nil
}
