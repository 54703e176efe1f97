package master

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/licensing/license"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/fsm"
)

// maxLicenseText bounds a license sent to the admin API.
const maxLicenseText = 256 << 10

// verifyLicense checks a license the way every master would before it is
// proposed: the vendor's signature against this master's trusted keys, the
// cluster binding and the dates at trusted time. The FSM stores only what
// passed, since vendor keys are configuration, not replicated state.
func (s *Server) verifyLicense(text []byte) (*license.License, error) {
	if len(s.vendorKeys) == 0 {
		return nil, connect.NewError(connect.CodeFailedPrecondition,
			errors.New("master: no vendor keys are configured (vendor_keys), so no license can be verified"))
	}
	l, err := license.Verify(text, s.vendorKeys, license.VerifyOptions{
		ClusterID:   license.ClusterID(s.id.clusterID),
		Now:         s.now(),
		TrustedTime: s.fsm.TrustedTime(),
	})
	switch {
	case err == nil:
		return l, nil
	case errors.Is(err, license.ErrExpired), errors.Is(err, license.ErrNotYetValid), errors.Is(err, license.ErrWrongCluster):
		return nil, connect.NewError(connect.CodeFailedPrecondition, err)
	default:
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
}

func (h adminHandler) AddLicense(ctx context.Context, req *connect.Request[licmeshv1.AddLicenseRequest]) (*connect.Response[licmeshv1.AddLicenseResponse], error) {
	s := h.s
	text := []byte(req.Msg.Text)
	if len(text) == 0 || len(text) > maxLicenseText {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%w: license text must hold 1 to %d bytes", ErrBadRequest, maxLicenseText))
	}
	l, err := s.verifyLicense(text)
	if err != nil {
		return nil, err
	}
	if _, err := s.apply(ctx, fsm.AddLicenseType, fsm.AddLicense{Text: text, Now: s.now().UnixMilli()}); err != nil {
		return nil, toConnect(err)
	}
	info, ok := s.fsm.License(l.ID)
	if !ok {
		return nil, connect.NewError(connect.CodeUnavailable, fmt.Errorf("master: license %s was added but is not visible here yet", l.ID))
	}
	resp := &licmeshv1.AddLicenseResponse{License: licenseToWire(info, false)}
	if len(info.Replaced) > 0 {
		resp.Replaced = string(info.Replaced[0])
	}
	s.log.Info("license added", "license_id", string(l.ID), "product", string(l.Product.SKU), "key_id", string(l.KeyID))
	return connect.NewResponse(resp), nil
}

func (h adminHandler) ListLicenses(ctx context.Context, _ *connect.Request[licmeshv1.ListLicensesRequest]) (*connect.Response[licmeshv1.ListLicensesResponse], error) {
	s := h.s
	var out []*licmeshv1.License
	cov := s.fsm.VolumeCoverage()
	for _, info := range s.fsm.Licenses() {
		w := licenseToWire(info, false)
		w.CoveredCollectors = cov[info.ID]
		out = append(out, w)
	}
	mark := s.fsm.TrustedTime()
	return connect.NewResponse(&licmeshv1.ListLicensesResponse{
		Licenses:      out,
		Tampered:      license.Tampered(s.now(), mark),
		TrustedTimeMs: mark.UnixMilli(),
	}), nil
}

func (h adminHandler) GetLicense(ctx context.Context, req *connect.Request[licmeshv1.GetLicenseRequest]) (*connect.Response[licmeshv1.GetLicenseResponse], error) {
	info, ok := h.s.fsm.License(license.LicenseID(req.Msg.Id))
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("master: no license %q", req.Msg.Id))
	}
	w := licenseToWire(info, true)
	w.CoveredCollectors = h.s.fsm.VolumeCoverage()[info.ID]
	return connect.NewResponse(&licmeshv1.GetLicenseResponse{License: w}), nil
}

func (h adminHandler) RemoveLicense(ctx context.Context, req *connect.Request[licmeshv1.RemoveLicenseRequest]) (*connect.Response[licmeshv1.RemoveLicenseResponse], error) {
	s := h.s
	if _, err := s.apply(ctx, fsm.RemoveLicenseType, fsm.RemoveLicense{ID: license.LicenseID(req.Msg.Id), Now: s.now().UnixMilli()}); err != nil {
		return nil, toConnect(err)
	}
	s.log.Info("license removed", "license_id", req.Msg.Id)
	return connect.NewResponse(&licmeshv1.RemoveLicenseResponse{}), nil
}

func licenseToWire(info fsm.LicenseInfo, withText bool) *licmeshv1.License {
	w := &licmeshv1.License{
		Id:             string(info.ID),
		Customer:       info.Customer.Name,
		Product:        info.Product.Name,
		Type:           string(info.Type),
		Status:         string(info.Status.Phase),
		DaysLeft:       int32(info.Status.DaysLeft),
		KeyId:          string(info.KeyID),
		SubscriptionId: string(info.SubscriptionID),
		AddedAtMs:      info.AddedAt,
	}
	if info.Status.Expires {
		w.ExpiresAtMs = info.Status.ExpiresAt.UnixMilli()
	}
	for _, g := range info.Grants {
		w.Pools = append(w.Pools, &licmeshv1.Pool{
			Name: g.Name, Seats: uint32(g.Seats), Enforce: g.Enforce.String(), Held: uint32(g.Held),
		})
	}
	for _, f := range info.Features {
		if f.Enabled {
			w.Features = append(w.Features, f.Name)
		}
	}
	if withText {
		w.Text = string(info.Text)
	}
	if c := info.Credits; c != nil {
		w.CreditsUnit, w.CreditsBought, w.CreditsRemaining, w.CreditsLow = c.Unit, c.Bought, c.Remaining, c.Low
	}
	if v := info.Volume; v != nil {
		w.VolumeInstallations = int32(v.Installations)
	}
	return w
}
