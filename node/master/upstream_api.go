package master

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/licensing/license"
	"github.com/licmesh/licmesh/licensing/upstream"
	"github.com/licmesh/licmesh/licensing/usage"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/fsm"
)

// maxHubCA bounds the PEM of a pinned hub certificate.
const maxHubCA = 64 << 10

// hubTarget checks the hub an operator names.
func hubTarget(t *licmeshv1.HubTarget) (string, []byte, error) {
	if t == nil || t.GetUrl() == "" {
		return "", nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: hub.url is required (https://hub.example:7500)", ErrBadRequest))
	}
	u, err := url.Parse(t.GetUrl())
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: hub.url %q: want https://host[:port]", ErrBadRequest, t.GetUrl()))
	}
	ca := []byte(t.GetCaPem())
	if len(ca) > maxHubCA {
		return "", nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: hub.ca_pem has %d bytes, at most %d", ErrBadRequest, len(ca), maxHubCA))
	}
	if _, err := hubClient(t.GetUrl(), ca, ""); err != nil {
		return "", nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	return t.GetUrl(), ca, nil
}

// hubError passes on what the hub said, naming it.
func hubError(url string, err error) error {
	var ce *connect.Error
	if errors.As(err, &ce) {
		code := ce.Code()
		if code == connect.CodeUnknown || code == connect.CodeInternal {
			code = connect.CodeUnavailable
		}
		return connect.NewError(code, fmt.Errorf("hub %s: %s", url, ce.Message()))
	}
	return connect.NewError(connect.CodeUnavailable, fmt.Errorf("hub %s: %w", url, err))
}

func (h adminHandler) ListHubCompanies(ctx context.Context, req *connect.Request[licmeshv1.ListHubCompaniesRequest]) (*connect.Response[licmeshv1.ListHubCompaniesResponse], error) {
	u, ca, err := hubTarget(req.Msg.GetHub())
	if err != nil {
		return nil, err
	}
	if req.Msg.GetApiKey() == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: api_key is required: a key of your account at the hub", ErrBadRequest))
	}
	c, _ := hubClient(u, ca, req.Msg.GetApiKey())
	resp, err := c.ListActivationCompanies(ctx, connect.NewRequest(&licmeshv1.ListActivationCompaniesRequest{}))
	if err != nil {
		return nil, hubError(u, err)
	}
	out := &licmeshv1.ListHubCompaniesResponse{}
	for _, co := range resp.Msg.GetCompanies() {
		out.Companies = append(out.Companies, &licmeshv1.HubCompany{Id: co.GetId(), Name: co.GetName(), Products: co.GetProducts()})
	}
	return connect.NewResponse(out), nil
}

func (h adminHandler) ActivateCluster(ctx context.Context, req *connect.Request[licmeshv1.ActivateClusterRequest]) (*connect.Response[licmeshv1.ActivateClusterResponse], error) {
	s := h.s
	u, ca, err := hubTarget(req.Msg.GetHub())
	if err != nil {
		return nil, err
	}
	if req.Msg.GetApiKey() == "" || req.Msg.GetCompanyId() == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: api_key and company_id are required", ErrBadRequest))
	}
	ar, err := s.activationRequest()
	if err != nil {
		return nil, connect.NewError(connect.CodeUnavailable, err)
	}
	c, _ := hubClient(u, ca, req.Msg.GetApiKey())
	resp, err := c.ActivateSite(ctx, connect.NewRequest(&licmeshv1.ActivateSiteRequest{Request: ar.Marshal(), CompanyId: req.Msg.GetCompanyId()}))
	if err != nil {
		return nil, hubError(u, err)
	}
	// Licenses first: a cluster the hub activated but whose licenses did
	// not verify here is not linked to it.
	for _, text := range resp.Msg.GetLicenses() {
		if _, err := s.verifyLicense([]byte(text)); err != nil {
			return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("the hub's license does not verify with this cluster's vendor keys: %w", err))
		}
	}
	link := fsm.HubLink{URL: u, CAPEM: ca, CompanyID: resp.Msg.GetCompanyId(), CompanyName: resp.Msg.GetCompanyName(), ActivatedAt: s.now().UnixMilli()}
	if err := s.linkHub(ctx, link); err != nil {
		return nil, err
	}
	if _, err := s.addLicenses(ctx, resp.Msg.GetLicenses()); err != nil {
		return nil, toConnect(err)
	}
	var ids []string
	for _, text := range resp.Msg.GetLicenses() {
		if l, err := s.verifyLicense([]byte(text)); err == nil {
			ids = append(ids, string(l.ID))
		}
	}
	s.log.Info("cluster activated with the hub", "hub", u, "company", resp.Msg.GetCompanyId(), "licenses", len(ids))
	return connect.NewResponse(&licmeshv1.ActivateClusterResponse{CompanyId: resp.Msg.GetCompanyId(), CompanyName: resp.Msg.GetCompanyName(), LicenseIds: ids}), nil
}

// linkHub commits the hub link and wakes the leader's sync.
func (s *Server) linkHub(ctx context.Context, link fsm.HubLink) error {
	if _, err := s.apply(ctx, fsm.SetUpstreamType, fsm.SetUpstream{Hub: link, Now: s.now().UnixMilli()}); err != nil {
		return toConnect(err)
	}
	select {
	case s.syncNudge <- struct{}{}:
	default:
	}
	return nil
}

func (h adminHandler) StartClusterTrial(ctx context.Context, req *connect.Request[licmeshv1.StartClusterTrialRequest]) (*connect.Response[licmeshv1.StartClusterTrialResponse], error) {
	s := h.s
	u, ca, err := hubTarget(req.Msg.GetHub())
	if err != nil {
		return nil, err
	}
	if req.Msg.GetEmail() == "" {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: email is required", ErrBadRequest))
	}
	ar, err := s.activationRequest()
	if err != nil {
		return nil, connect.NewError(connect.CodeUnavailable, err)
	}
	c, _ := hubClient(u, ca, "")
	m := req.Msg
	resp, err := c.StartSiteTrial(ctx, connect.NewRequest(&licmeshv1.StartSiteTrialRequest{Request: ar.Marshal(), Email: m.GetEmail(),
		Sku: m.GetSku(), Company: m.GetCompany(), Name: m.GetName()}))
	if err != nil {
		return nil, hubError(u, err)
	}
	if resp.Msg.GetLicense() == "" {
		// The address has an account: the hub mailed it instead of
		// telling us so.
		return connect.NewResponse(&licmeshv1.StartClusterTrialResponse{}), nil
	}
	l, err := s.verifyLicense([]byte(resp.Msg.GetLicense()))
	if err != nil {
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("the hub's trial license does not verify: %w", err))
	}
	link := fsm.HubLink{URL: u, CAPEM: ca, CompanyID: resp.Msg.GetCompanyId(), CompanyName: resp.Msg.GetCompanyName(), ActivatedAt: s.now().UnixMilli(),
		ActivatedBy: "trial " + m.GetEmail()}
	if err := s.linkHub(ctx, link); err != nil {
		return nil, err
	}
	if _, err := s.addLicenses(ctx, []string{resp.Msg.GetLicense()}); err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&licmeshv1.StartClusterTrialResponse{CompanyId: resp.Msg.GetCompanyId(), LicenseId: string(l.ID)}), nil
}

func (h adminHandler) MakeActivationRequest(ctx context.Context, _ *connect.Request[licmeshv1.MakeActivationRequestRequest]) (*connect.Response[licmeshv1.MakeActivationRequestResponse], error) {
	ar, err := h.s.activationRequest()
	if err != nil {
		return nil, connect.NewError(connect.CodeUnavailable, err)
	}
	return connect.NewResponse(&licmeshv1.MakeActivationRequestResponse{Request: ar.Marshal()}), nil
}

func (h adminHandler) GetUpstream(ctx context.Context, _ *connect.Request[licmeshv1.GetUpstreamRequest]) (*connect.Response[licmeshv1.GetUpstreamResponse], error) {
	s := h.s
	st := s.fsm.Upstream()
	out := &licmeshv1.GetUpstreamResponse{Activated: st.Activated, HubUrl: st.Hub.URL, CompanyId: st.Hub.CompanyID, CompanyName: st.Hub.CompanyName,
		ActivatedAtMs: st.Hub.ActivatedAt, HeadSeq: st.HeadSeq, AckedSeq: st.Acked, AckedAtMs: st.AckedAt, AckedVia: st.AckedVia,
		Outbox: uint32(st.Outbox), OutboxBytes: uint64(st.OutboxBytes), Dirty: uint32(st.Dirty), LastCheckMs: st.Check.At,
		LastCheckSummary: st.Check.Summary}
	if s.node.IsLeader() {
		s.sync.mu.Lock()
		out.LastSyncMs, out.LastError, out.LastErrorMs = msOf(s.sync.lastSync), s.sync.lastErr, msOf(s.sync.lastErrAt)
		out.NextAttemptMs, out.LastCheckError = msOf(s.sync.nextAttempt), s.sync.checkErr
		s.sync.mu.Unlock()
	}
	return connect.NewResponse(out), nil
}

func msOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func (h adminHandler) CheckLicensesNow(ctx context.Context, _ *connect.Request[licmeshv1.CheckLicensesNowRequest]) (*connect.Response[licmeshv1.CheckLicensesNowResponse], error) {
	summary, err := h.s.checkLicenses(ctx)
	if err != nil {
		var ce *connect.Error
		if errors.As(err, &ce) || errors.Is(err, ErrBadRequest) {
			return nil, toConnect(err)
		}
		return nil, connect.NewError(connect.CodeUnavailable, err)
	}
	return connect.NewResponse(&licmeshv1.CheckLicensesNowResponse{Summary: summary}), nil
}

func (h adminHandler) ExportUsage(ctx context.Context, req *connect.Request[licmeshv1.ExportUsageRequest]) (*connect.Response[licmeshv1.ExportUsageResponse], error) {
	s := h.s
	var err error
	if since := req.Msg.GetSince(); since != "" {
		k, perr := usage.ParseMonthKey(since)
		if perr != nil {
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: since %q: want YYYY-MM", ErrBadRequest, since))
		}
		_, err = s.seal(ctx, func(max int) (*upstream.Batch, []fsm.Mark, bool) {
			b, ok := s.fsm.UpstreamDraftSince(k, max, s.now())
			return b, nil, ok
		})
	}
	// What changed since the last batch goes in a batch of its own.
	for err == nil {
		var sealed bool
		if sealed, err = s.sealMarked(ctx); !sealed {
			break
		}
	}
	if err != nil {
		if errors.Is(err, fsm.ErrOutboxFull) {
			return nil, connect.NewError(connect.CodeResourceExhausted, err)
		}
		return nil, toConnect(err)
	}
	out := s.fsm.Outbox()
	if len(out) == 0 {
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("%w: nothing to export: the hub has acknowledged every batch and no usage changed since", ErrBadRequest))
	}
	e := upstream.Export{Format: upstream.ExportFormat, ClusterID: license.ClusterID(s.id.clusterID), CreatedAt: s.now().UTC()}
	for _, b := range out {
		sb, err := upstream.ParseSigned(b.Signed, fsm.MaxSealedBatchBytes)
		if err != nil {
			return nil, connect.NewError(connect.CodeInternal, err)
		}
		e.Batches = append(e.Batches, sb)
	}
	return connect.NewResponse(&licmeshv1.ExportUsageResponse{File: e.Marshal(), FirstSeq: out[0].Seq, LastSeq: out[len(out)-1].Seq}), nil
}

func (h adminHandler) ImportUsageReceipt(ctx context.Context, req *connect.Request[licmeshv1.ImportUsageReceiptRequest]) (*connect.Response[licmeshv1.ImportUsageReceiptResponse], error) {
	s := h.s
	sd, err := upstream.ParseSigned(req.Msg.GetReceipt(), upstream.MaxReceiptBytes)
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("receipt: %w", err))
	}
	r, err := upstream.OpenReceipt(sd, s.vendorKeys, license.ClusterID(s.id.clusterID))
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("receipt: %w", err))
	}
	before := s.fsm.Upstream().Outbox
	if _, err := s.apply(ctx, fsm.AckUpstreamType, fsm.AckUpstream{Seq: r.Seq, Hash: r.Hash, Via: "receipt", Now: s.now().UnixMilli()}); err != nil {
		if errors.Is(err, fsm.ErrUpstreamChain) {
			return nil, connect.NewError(connect.CodeFailedPrecondition, err)
		}
		return nil, toConnect(err)
	}
	after := s.fsm.Upstream().Outbox
	return connect.NewResponse(&licmeshv1.ImportUsageReceiptResponse{Seq: r.Seq, Dropped: uint32(max(before-after, 0))}), nil
}
