package agent

import (
	"context"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

// ReportUsage delivers a batch of spooled usage records to the masters,
// failing over between them like every other call, and returns the answer of
// the master that committed them. Each attempt is bounded by
// request_timeout, the whole call by ctx. An answer without a spool epoch is
// a bad answer, and the next master is tried; an answer for another epoch
// than the request's is returned as it is, for the caller to judge.
// Errors: ErrNotReady, a *RejectedError, ErrUnavailable (also while the
// masters do not implement usage reports yet).
func (a *Agent) ReportUsage(ctx context.Context, req *licmeshv1.ReportUsageRequest) (*licmeshv1.ReportUsageResponse, error) {
	tr := a.transport()
	if a.identity() == nil || tr == nil {
		return nil, ErrNotReady
	}
	var out *licmeshv1.ReportUsageResponse
	err := a.call(ctx, tr, a.cfg.RequestTimeout, func(ctx context.Context, c licmeshv1connect.CollectorServiceClient, addr string) error {
		resp, err := c.ReportUsage(ctx, connect.NewRequest(req))
		if err != nil {
			return err
		}
		if resp.Msg.GetSpoolEpoch() == 0 {
			return badAnswer("usage report answered without a spool epoch")
		}
		out = resp.Msg
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
