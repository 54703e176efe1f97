package master

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// WatchEntitlements streams the collector's signed entitlement document.
func (h collectorHandler) WatchEntitlements(context.Context, *connect.Request[licmeshv1.WatchEntitlementsRequest], *connect.ServerStream[licmeshv1.WatchEntitlementsResponse]) error {
	return connect.NewError(connect.CodeUnimplemented, errors.New("entitlements are not built yet"))
}

// ConsumeCredits takes usage credits from the licenses in force.
func (h collectorHandler) ConsumeCredits(context.Context, *connect.Request[licmeshv1.ConsumeCreditsRequest]) (*connect.Response[licmeshv1.ConsumeCreditsResponse], error) {
	return nil, connect.NewError(connect.CodeUnimplemented, errors.New("credits are not built yet"))
}
