package master

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/licensing/upstream"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/fsm"
)

// Procurement (fsm/purchases.go): a license manager asks, an admin
// decides, the daily check carries approved requests to the hub and brings
// the vendor's answers back.

func purchaseToWire(p fsm.Purchase) *licmeshv1.Purchase {
	return &licmeshv1.Purchase{Id: p.ID, Sku: p.SKU, Pool: p.Pool, Quantity: uint32(p.Quantity), Module: p.Module, Reason: p.Reason,
		State: p.State, RequestedBy: p.RequestedBy, RequestedAtMs: p.RequestedAt, DecidedBy: p.DecidedBy, DecidedAtMs: p.DecidedAt,
		DecisionNote: p.DecisionNote, SentAtMs: p.SentAt, Via: p.Via, AnsweredAtMs: p.AnsweredAt, Answer: p.Answer}
}

func (s *Server) purchase(id string) *licmeshv1.Purchase {
	for _, p := range s.fsm.Purchases() {
		if p.ID == id {
			return purchaseToWire(p)
		}
	}
	return nil
}

func (h adminHandler) RequestPurchase(ctx context.Context, req *connect.Request[licmeshv1.RequestPurchaseRequest]) (*connect.Response[licmeshv1.RequestPurchaseResponse], error) {
	m := req.Msg
	id := "pr-" + newRequestID()[:12]
	p := fsm.Purchase{ID: id, SKU: strings.TrimSpace(m.Sku), Pool: strings.TrimSpace(m.Pool), Quantity: int(m.Quantity),
		Module: strings.TrimSpace(m.Module), Reason: strings.TrimSpace(m.Reason), RequestedBy: adminCaller(ctx)}
	if _, err := h.s.apply(ctx, fsm.RequestPurchaseType, fsm.RequestPurchase{Purchase: p, Now: h.s.now().UnixMilli()}); err != nil {
		return nil, toConnect(err)
	}
	h.s.log.Info("purchase requested", "purchase", id, "sku", p.SKU, "pool", p.Pool, "quantity", p.Quantity, "module", p.Module, "by", p.RequestedBy)
	return connect.NewResponse(&licmeshv1.RequestPurchaseResponse{Purchase: h.s.purchase(id)}), nil
}

func (h adminHandler) DecidePurchase(ctx context.Context, req *connect.Request[licmeshv1.DecidePurchaseRequest]) (*connect.Response[licmeshv1.DecidePurchaseResponse], error) {
	m := req.Msg
	cmd := fsm.DecidePurchase{ID: m.Id, Approve: m.Approve, Note: strings.TrimSpace(m.Note), By: adminCaller(ctx), Now: h.s.now().UnixMilli()}
	if _, err := h.s.apply(ctx, fsm.DecidePurchaseType, cmd); err != nil {
		return nil, toConnect(err)
	}
	h.s.log.Info("purchase decided", "purchase", m.Id, "approve", m.Approve, "by", cmd.By)
	if m.Approve {
		select { // the leader's next check carries it to the hub
		case h.s.syncNudge <- struct{}{}:
		default:
		}
	}
	return connect.NewResponse(&licmeshv1.DecidePurchaseResponse{Purchase: h.s.purchase(m.Id)}), nil
}

func (h adminHandler) ListPurchases(ctx context.Context, _ *connect.Request[licmeshv1.ListPurchasesRequest]) (*connect.Response[licmeshv1.ListPurchasesResponse], error) {
	out := &licmeshv1.ListPurchasesResponse{}
	for _, p := range h.s.fsm.Purchases() {
		out.Purchases = append(out.Purchases, purchaseToWire(p))
	}
	return connect.NewResponse(out), nil
}

// quotesToSend are the approved requests the hub has not taken yet.
func (s *Server) quotesToSend() []*licmeshv1.QuoteRequest {
	var out []*licmeshv1.QuoteRequest
	for _, p := range slices.Backward(s.fsm.Purchases()) {
		if p.State != fsm.PurchaseApproved || len(out) == 100 {
			continue
		}
		out = append(out, &licmeshv1.QuoteRequest{Id: p.ID, Sku: p.SKU, Pool: p.Pool, Quantity: uint32(p.Quantity), Module: p.Module,
			Reason: p.Reason, RequestedBy: p.RequestedBy, ApprovedBy: p.DecidedBy, RequestedAtMs: p.RequestedAt})
	}
	return out
}

// recordQuotes commits what the hub said of the site's requests: taken,
// or answered. It returns the check's summary lines.
func (s *Server) recordQuotes(ctx context.Context, received []string, answers []*licmeshv1.QuoteAnswer) ([]string, error) {
	state := map[string]fsm.Purchase{}
	for _, p := range s.fsm.Purchases() {
		state[p.ID] = p
	}
	var sent, answered []string
	for _, id := range received {
		if p, ok := state[id]; ok && p.State == fsm.PurchaseApproved {
			if _, err := s.apply(ctx, fsm.PurchaseProgressType, fsm.PurchaseProgress{ID: id, Sent: true, Via: "online", Now: s.now().UnixMilli()}); err != nil {
				return nil, err
			}
			sent = append(sent, id)
			p.State = fsm.PurchaseSent
			state[id] = p
		}
	}
	for _, a := range answers {
		p, ok := state[a.GetId()]
		if !ok || (p.State != fsm.PurchaseSent && p.State != fsm.PurchaseAnswered) || p.Answer == a.GetAnswer() {
			continue
		}
		answer := a.GetAnswer()
		if len(answer) > 500 {
			answer = answer[:500]
		}
		if _, err := s.apply(ctx, fsm.PurchaseProgressType, fsm.PurchaseProgress{ID: p.ID, Answer: answer, Now: s.now().UnixMilli()}); err != nil {
			return nil, err
		}
		answered = append(answered, p.ID)
	}
	var out []string
	if len(sent) > 0 {
		out = append(out, fmt.Sprintf("sent purchase requests %s", strings.Join(sent, ", ")))
	}
	if len(answered) > 0 {
		out = append(out, fmt.Sprintf("the vendor answered %s", strings.Join(answered, ", ")))
	}
	return out, nil
}

func (h adminHandler) ExportPurchaseRequests(ctx context.Context, _ *connect.Request[licmeshv1.ExportPurchaseRequestsRequest]) (*connect.Response[licmeshv1.ExportPurchaseRequestsResponse], error) {
	sg, err := h.s.signingKey()
	if err != nil {
		return nil, toConnect(err)
	}
	pending := h.s.quotesToSend()
	if len(pending) == 0 {
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("%w: no approved purchase request waits to be sent", ErrBadRequest))
	}
	q := upstream.QuoteFile{ClusterID: license.ClusterID(sg.clusterID), CreatedAt: h.s.now().UTC()}
	var ids []string
	for _, p := range pending {
		q.Quotes = append(q.Quotes, upstream.Quote{ID: p.Id, SKU: p.Sku, Pool: p.Pool, Quantity: int(p.Quantity), Module: p.Module,
			Reason: p.Reason, RequestedBy: p.RequestedBy, ApprovedBy: p.ApprovedBy, RequestedAt: time.UnixMilli(p.RequestedAtMs).UTC()})
		ids = append(ids, p.Id)
	}
	signed, err := upstream.SealQuotes(q, sg.priv)
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	for _, id := range ids {
		if _, err := h.s.apply(ctx, fsm.PurchaseProgressType, fsm.PurchaseProgress{ID: id, Sent: true, Via: "file", Now: h.s.now().UnixMilli()}); err != nil {
			return nil, toConnect(err)
		}
	}
	h.s.log.Info("purchase requests exported", "requests", len(ids), "by", adminCaller(ctx))
	return connect.NewResponse(&licmeshv1.ExportPurchaseRequestsResponse{File: signed.Marshal(), Ids: ids}), nil
}
