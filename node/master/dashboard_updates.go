package master

import (
	"context"
	"errors"
	"fmt"
	"io"

	"connectrpc.com/connect"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
	"github.com/licmesh/licmesh/node/dashboard"
	"github.com/licmesh/licmesh/node/fsm"
)

// uploadBundleAction names a bundle upload in the audit log, from the API
// (uploadBundle) and the dashboard alike.
const uploadBundleAction = "/UploadUpdateBundle"

// dashUpdates links the dashboard's Updates page to the admin API's update
// calls, through dashCall, so that permissions and audit apply as they do
// to the API.
func (s *Server) dashUpdates(admin adminHandler) dashboard.UpdateFuncs {
	return dashboard.UpdateFuncs{
		// Status reads without dashCall: UpdateStatus is not among the
		// readOnly calls, and dashCall would audit every poll of the page.
		Status: func(ctx context.Context) (*licmeshv1.UpdateStatusResponse, error) {
			if _, _, err := dashCtx(ctx, licmeshv1connect.AdminServiceUpdateStatusProcedure); err != nil {
				return nil, err
			}
			return s.updateStatus(), nil
		},
		Check: func(ctx context.Context) error {
			_, err := dashCall(s, ctx, licmeshv1connect.AdminServiceCheckUpdatesProcedure, admin.CheckUpdates, &licmeshv1.CheckUpdatesRequest{})
			return err
		},
		Download: func(ctx context.Context, version string) error {
			_, err := dashCall(s, ctx, licmeshv1connect.AdminServiceDownloadUpdateProcedure, admin.DownloadUpdate, &licmeshv1.DownloadUpdateRequest{Version: version})
			return err
		},
		Install: func(ctx context.Context, version string) error {
			_, err := dashCall(s, ctx, licmeshv1connect.AdminServiceInstallUpdateProcedure, admin.InstallUpdate, &licmeshv1.InstallUpdateRequest{Version: version})
			return err
		},
		Rollback: func(ctx context.Context) error {
			_, err := dashCall(s, ctx, licmeshv1connect.AdminServiceRollbackUpdateProcedure, admin.RollbackUpdate, &licmeshv1.RollbackUpdateRequest{})
			return err
		},
		SetSettings: func(ctx context.Context, st *licmeshv1.UpdateSettings) error {
			_, err := dashCall(s, ctx, licmeshv1connect.AdminServiceSetUpdateSettingsProcedure, admin.SetUpdateSettings,
				&licmeshv1.SetUpdateSettingsRequest{Settings: st})
			return err
		},
		UploadBundle: s.dashUploadBundle,
	}
}

// dashUploadBundle imports an offline bundle posted on the dashboard, as
// POST /v1/updates/bundle does: PermUpdates only, audited either way. A
// verification error is the operator's to read; any other stays in the
// log.
func (s *Server) dashUploadBundle(ctx context.Context, body io.Reader) (string, error) {
	dp, ok := dashboard.PrincipalFrom(ctx)
	if !ok {
		return "", fmt.Errorf("%w: the dashboard's call carries no principal", ErrUnauthorized)
	}
	p := Principal{ID: dp.ID, User: dp.User, Role: fsm.Role(dp.Role), TokenID: dp.TokenID, Epoch: dp.Epoch}
	for _, x := range dp.Perms {
		p.perms = append(p.perms, Perm(x))
	}
	a := s.newAuditReq(p, uploadBundleAction, remoteAddrFrom(ctx), "dashboard")
	if !p.Can(PermUpdates) {
		err := deniedError(p, uploadBundleAction, PermUpdates)
		s.auditEvent(a, connect.NewError(connect.CodePermissionDenied, err))
		return "", err
	}
	var (
		cmd fsm.UpdateChecked
		n   int
	)
	err := s.audit(withPrincipal(ctx, p), a, func(ctx context.Context) error {
		var err error
		cmd, n, err = s.importBundle(ctx, body)
		return toConnect(err)
	})
	switch ce := (*connect.Error)(nil); {
	case err == nil:
		return fmt.Sprintf("verified %d releases, stored %d artifacts", len(cmd.Releases), n), nil
	case (errors.Is(err, ErrBadRequest) || errors.Is(err, ErrUpdate)) && errors.As(err, &ce):
		return "", errors.New(ce.Message())
	}
	s.log.Error("updates: bundle upload failed", "principal", p.ID, "err", err)
	return "", errors.New("the master could not store the bundle; its log says why")
}
