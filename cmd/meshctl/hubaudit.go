package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

func auditColumns() []column[*v1.AuditEntry] {
	type e = *v1.AuditEntry
	return []column[e]{
		{"AT", func(x e) string { return msTime(x.GetAtMs()) }},
		{"ACTOR", func(x e) string { return x.GetActor() }},
		{"ACTION", func(x e) string { return x.GetAction() }},
		{"TARGET", func(x e) string { return x.GetTarget() }},
		{"DETAIL", func(x e) string { return x.GetDetail() }},
		{"REMOTE", func(x e) string { return x.GetRemote() }},
	}
}

func vendorKeyColumns() []column[*v1.VendorKey] {
	type k = *v1.VendorKey
	return []column[k]{
		{"KEY ID", func(x k) string { return x.GetKeyId() }},
		{"CREATED", func(x k) string { return msTime(x.GetCreatedAtMs()) }},
		{"RETIRED", func(x k) string { return msTime(x.GetRetiredAtMs()) }},
		{"PUBLIC KEY", func(x k) string { return x.GetPublicKey() }},
	}
}

func (h *hubApp) auditCommand() *cobra.Command {
	var (
		out    format
		limit  int64
		before timeValue
	)
	cmd := &cobra.Command{
		Use:   "audit [--limit N] [--before TIME]",
		Short: "Show the audit log, newest first (admins)",
		Args:  noArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if limit < 1 || limit > 1000 {
				return usagef("--limit must be between 1 and 1000, got %d", limit)
			}
			return nil
		},
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, _ []string) error {
			req := &v1.ListAuditRequest{Limit: limit}
			if t := time.Time(before); !t.IsZero() {
				req.BeforeMs = t.UnixMilli()
			}
			res, err := hubCall(ctx, h, hub.ListAudit, req)
			if err != nil {
				return err
			}
			es := res.GetEntries()
			if int64(len(es)) == limit {
				fmt.Fprintf(h.a.stderr, "more may follow: --before %s\n", msTime(es[len(es)-1].GetAtMs()))
			}
			return printList(h.a.stdout, out, res, auditColumns(), es)
		}),
	}
	cmd.Flags().Int64Var(&limit, "limit", 50, "at most N entries (up to 1000)")
	cmd.Flags().Var(&before, "before", "only entries before this time (RFC 3339), for the next page")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (h *hubApp) vendorKeysCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "vendor-keys [-o table|json|csv]",
		Short: "Print the hub's vendor public keys, as masters' vendor_keys take them",
		Long: `Print every vendor public key of the hub, one "key-id:base64" line each, as a
master's vendor_keys setting (or meshctl license verify --vendor-keys FILE)
takes them. Retired keys are listed too: they no longer sign, but the
licenses they signed still need them. -o table, json or csv show the keys'
dates as well.`,
		Args: noArgs,
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, _ []string) error {
			res, err := hubCall(ctx, h, hub.ListVendorKeys, &v1.ListVendorKeysRequest{})
			if err != nil {
				return err
			}
			if out != "" {
				return printList(h.a.stdout, out, res, vendorKeyColumns(), res.GetKeys())
			}
			for _, k := range res.GetKeys() {
				if _, err := fmt.Fprintln(h.a.stdout, tableCell(k.GetPublicKey())); err != nil {
					return err
				}
			}
			return nil
		}),
	}
	// No default: without -o the lines are printed bare.
	cmd.Flags().VarP(&out, "output", "o", "output format: table, json or csv (default: key-id:base64 lines)")
	return cmd
}
