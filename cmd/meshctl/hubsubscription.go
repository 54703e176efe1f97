package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

func subscriptionColumns() []column[*v1.Subscription] {
	type s = *v1.Subscription
	return []column[s]{
		{"ID", func(x s) string { return x.GetId() }},
		{"SKU", func(x s) string { return x.GetSku() }},
		{"VERSION", func(x s) string { return i64(x.GetProductVersion()) }},
		{"APP VERSION", func(x s) string { return x.GetAppVersion() }},
		{"TYPE", func(x s) string { return x.GetType() }},
		{"QUANTITY", func(x s) string { return i64(x.GetQuantity()) }},
		{"STATUS", func(x s) string { return x.GetStatus() }},
		{"STARTED", func(x s) string { return msTime(x.GetStartedAtMs()) }},
		{"EXPIRES", func(x s) string { return msTime(x.GetExpiresAtMs()) }},
		{"LICENSES", func(x s) string { return i64(x.GetLicenses()) }},
		{"TRIAL", func(x s) string { return strconv.FormatBool(x.GetBeganAsTrial()) }},
		{"CONVERTED", func(x s) string { return msTime(x.GetConvertedAtMs()) }},
		{"CURRENT LICENSE", func(x s) string { return x.GetCurrentLicenseId() }},
	}
}

func (h *hubApp) subscriptionCommand() *cobra.Command {
	return group("subscription", "List a company's subscriptions, one per product license chain",
		h.subscriptionListCommand(),
	)
}

func (h *hubApp) subscriptionListCommand() *cobra.Command {
	var (
		out            format
		company, after string
		limit          int64
	)
	cmd := &cobra.Command{
		Use:   "list --company ID [--limit N [--after ID]]",
		Short: "List a company's subscriptions and where each stands",
		Long: `List a company's subscriptions: a trial with its extensions, conversion, seat
packs and modules is one subscription (its licenses share a subscription ID),
a separately issued license another. Each shows its current license (what
"meshctl hub license download" takes), the product version it was issued
under, its status (current, expired, revoked, or ended when superseded from
another subscription), how many licenses it has had, and whether it began as
a trial and when that was converted.`,
		Args: noArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if strings.TrimSpace(company) == "" {
				return usagef("--company is needed")
			}
			if limit < 0 {
				return usagef("--limit must not be negative, got %d", limit)
			}
			return nil
		},
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, _ []string) error {
			res, err := hubCall(ctx, h, hub.ListSubscriptions, &v1.ListSubscriptionsRequest{CompanyId: company, Limit: limit, After: after})
			if err != nil {
				return err
			}
			subs := res.GetSubscriptions()
			if limit > 0 && int64(len(subs)) == limit {
				fmt.Fprintf(h.a.stderr, "more may follow: --after %s\n", tableCell(subs[len(subs)-1].GetId()))
			}
			return printList(h.a.stdout, out, res, subscriptionColumns(), subs)
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&company, "company", "", "the company's ID")
	fs.Int64Var(&limit, "limit", 0, "at most N subscriptions (0: the hub's default)")
	fs.StringVar(&after, "after", "", "the page after this subscription ID")
	_ = cmd.MarkFlagRequired("company")
	addOutputFlag(fs, &out)
	return cmd
}
