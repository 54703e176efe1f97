package hub

import (
	"context"
	"fmt"

	"connectrpc.com/connect"

	"github.com/licmesh/licmesh/licensing/license"
	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/node/hub/store"
)

func subscriptionToWire(s store.Subscription) *licmeshv1.Subscription {
	return &licmeshv1.Subscription{
		Id: string(s.ID), CompanyId: string(s.Company), Sku: string(s.SKU), ProductVersion: int64(s.ProductVersion),
		ProductName: s.ProductName, AppVersion: s.AppVersion, StartedAtMs: msOf(s.StartedAt), CurrentLicenseId: string(s.Current),
		Type: string(s.Type), Quantity: int64(s.Quantity), ExpiresAtMs: msOf(s.ExpiresAt), RevokedAtMs: msOf(s.RevokedAt),
		Status: string(s.Status), Licenses: int64(s.Licenses), BeganAsTrial: s.BeganAsTrial, ConvertedAtMs: msOf(s.ConvertedAt),
	}
}

// ListSubscriptions lists one company's subscriptions, scoped as
// ListIssuedLicenses is: staff read any company, a reseller its own
// customers, a customer always its own company.
func (a *api) ListSubscriptions(ctx context.Context, req *connect.Request[licmeshv1.ListSubscriptionsRequest]) (*connect.Response[licmeshv1.ListSubscriptionsResponse], error) {
	p, _, err := who(ctx, actRead, actReseller, actPortal)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	f := store.SubscriptionFilter{Company: store.CompanyID(m.GetCompanyId()), Limit: int(m.GetLimit()), After: license.SubscriptionID(m.GetAfter())}
	if p.Role == store.RoleCustomer {
		f.Company = p.Company
	}
	if f.Company == "" {
		return nil, a.fail("ListSubscriptions", fmt.Errorf("%w: company_id: whose subscriptions", ErrInvalidArgument))
	}
	now := a.s.clk.Now()
	var out licmeshv1.ListSubscriptionsResponse
	err = a.s.store.Read(ctx, func(tx *store.Tx) error {
		if _, err := companyFor(ctx, tx, p, f.Company); err != nil {
			return err
		}
		subs, err := tx.ListSubscriptions(ctx, f, now)
		for _, s := range subs {
			out.Subscriptions = append(out.Subscriptions, subscriptionToWire(s))
		}
		return err
	})
	if err != nil {
		return nil, a.fail("ListSubscriptions", err)
	}
	return res(&out), nil
}
