package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

func hubLicenseColumns() []column[*v1.HubLicense] {
	type l = *v1.HubLicense
	return []column[l]{
		{"ID", func(x l) string { return x.GetId() }},
		{"COMPANY", func(x l) string { return x.GetCompanyId() }},
		{"SKU", func(x l) string { return x.GetSku() }},
		{"VERSION", func(x l) string { return i64(x.GetProductVersion()) }},
		{"TYPE", func(x l) string { return x.GetType() }},
		{"QUANTITY", func(x l) string { return i64(x.GetQuantity()) }},
		{"STATUS", func(x l) string { return x.GetStatus() }},
		{"ISSUED", func(x l) string { return msTime(x.GetIssuedAtMs()) }},
		{"EXPIRES", func(x l) string { return msTime(x.GetExpiresAtMs()) }},
		{"SUPERSEDED BY", func(x l) string { return x.GetSupersededBy() }},
	}
}

// hubLicenseDetailColumns add what show and the issuing verbs print.
func hubLicenseDetailColumns() []column[*v1.HubLicense] {
	type l = *v1.HubLicense
	return append(hubLicenseColumns(),
		column[l]{"SUBSCRIPTION", func(x l) string { return x.GetSubscriptionId() }},
		column[l]{"NOT BEFORE", func(x l) string { return msTime(x.GetNotBeforeMs()) }},
		column[l]{"REVOKED", func(x l) string { return msTime(x.GetRevokedAtMs()) }},
		column[l]{"KEY", func(x l) string { return x.GetKeyId() }},
		column[l]{"ISSUED BY", func(x l) string { return x.GetIssuedBy() }},
	)
}

func (h *hubApp) licenseCommand() *cobra.Command {
	return group("license", "Issue licenses and trials, change, revoke, list and download them",
		h.licenseIssueCommand(),
		h.licenseTrialCommand(),
		h.licenseExtendCommand(),
		h.licenseConvertCommand(),
		h.licenseAddCommand(),
		h.licenseRevokeCommand(),
		h.licenseListCommand(),
		h.licenseShowCommand(),
		h.licenseDownloadCommand(),
	)
}

// issued is a response that carries a license the hub just signed.
type issued interface {
	proto.Message
	GetLicense() *v1.HubLicense
}

// printIssued prints a license the hub just signed, and how to get it.
func printIssued(h *hubApp, out format, msg issued, what string) error {
	l := msg.GetLicense()
	if out == formatTable {
		fmt.Fprintf(h.a.stderr, "%s %s; download it with: meshctl hub license download %s -f %s.lic\n",
			what, tableCell(l.GetId()), tableCell(l.GetId()), tableCell(l.GetId()))
	}
	return printOne(h.a.stdout, out, msg, hubLicenseDetailColumns(), l)
}

func (h *hubApp) licenseIssueCommand() *cobra.Command {
	var (
		out                        format
		company, sku, typ          string
		quantity, installations    int64
		duration, grace, clusterID string
		pools, enable, disable     []string
		credits                    int64
		creditUnit                 string
	)
	cmd := &cobra.Command{
		Use:   "issue --company ID --sku SKU [--quantity N] [tailoring flags]",
		Short: "Issue a license of a product's latest version to a company",
		Long: `Issue and sign a license of the product's latest version to a company: its
type (unless --type), its license template at --quantity, its features, its
term. The tailoring flags adjust it to one customer: explicit pools instead
of the template (--pool NAME:SEATS[:ENFORCE[:OVERAGE[:AMOUNT]]], repeatable),
modules on or off, another term, usage credits, a cluster binding.`,
		Args: noArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if strings.TrimSpace(company) == "" || strings.TrimSpace(sku) == "" {
				return usagef("--company and --sku are both needed")
			}
			if quantity < 1 {
				return usagef("--quantity must be 1 or more, got %d", quantity)
			}
			if credits < 0 {
				return usagef("--credits must not be negative, got %d", credits)
			}
			if credits > 0 && creditUnit == "" {
				return usagef("--credits needs --credit-unit (case, api_call...)")
			}
			return nil
		},
		RunE: h.action(func(ctx context.Context, _ []string) error {
			t := &v1.Tailoring{EnableFeatures: enable, DisableFeatures: disable, Duration: duration, Grace: grace,
				Credits: credits, CreditUnit: creditUnit, ClusterId: clusterID}
			for _, s := range pools {
				p, err := parsePool(s)
				if err != nil {
					return err
				}
				t.Pools = append(t.Pools, p)
			}
			hub, err := h.client()
			if err != nil {
				return err
			}
			res, err := hubCall(ctx, h, hub.IssueLicense, &v1.IssueLicenseRequest{
				CompanyId: company, Sku: sku, Quantity: quantity, Type: typ, Installations: installations, Tailoring: t,
			})
			if err != nil {
				return err
			}
			return printIssued(h, out, res, "issued license")
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&company, "company", "", "the company's ID")
	fs.StringVar(&sku, "sku", "", "the product's SKU")
	fs.Int64Var(&quantity, "quantity", 1, "how many the customer buys (per-qty template lines scale with it)")
	fs.StringVar(&typ, "type", "", "subscription, perpetual or volume (default: the product's)")
	fs.Int64Var(&installations, "installations", 0, "installations a volume license covers")
	fs.StringArrayVar(&pools, "pool", nil, "an explicit pool NAME:SEATS[:hard|soft[:OVERAGE[:AMOUNT]]] instead of the template (repeatable)")
	fs.StringSliceVar(&enable, "enable", nil, "modules to turn on (comma-separated or repeated)")
	fs.StringSliceVar(&disable, "disable", nil, "modules to turn off (comma-separated or repeated)")
	fs.StringVar(&duration, "duration", "", "the term instead of the product's, like 90d or 1y")
	fs.StringVar(&grace, "grace", "", "grace after expiry, like 7d")
	fs.Int64Var(&credits, "credits", 0, "usage credits bought")
	fs.StringVar(&creditUnit, "credit-unit", "", "what one credit pays for (case, api_call...)")
	fs.StringVar(&clusterID, "cluster-id", "", "bind the license to this cluster")
	_ = cmd.MarkFlagRequired("company")
	_ = cmd.MarkFlagRequired("sku")
	addOutputFlag(fs, &out)
	return cmd
}

// parsePool reads --pool NAME:SEATS[:ENFORCE[:OVERAGE[:AMOUNT]]].
func parsePool(s string) (*v1.TailoredPool, error) {
	parts := strings.Split(s, ":")
	bad := func(why string) (*v1.TailoredPool, error) {
		return nil, usagef("--pool %q: %s; want NAME:SEATS[:hard|soft[:OVERAGE[:AMOUNT]]]", s, why)
	}
	if len(parts) < 2 || len(parts) > 5 || parts[0] == "" {
		return bad("wrong number of parts")
	}
	p := &v1.TailoredPool{Name: parts[0]}
	nums := []struct {
		i    int
		name string
		dst  *int64
	}{{1, "seats", &p.Seats}, {3, "overage", &p.Overage}, {4, "amount", &p.Amount}}
	for _, n := range nums {
		if n.i >= len(parts) {
			continue
		}
		v, err := strconv.ParseInt(parts[n.i], 10, 64)
		if err != nil || v < 0 {
			return bad(n.name + " is not a whole number")
		}
		*n.dst = v
	}
	if len(parts) > 2 {
		p.Enforce = parts[2]
		if p.Enforce != "hard" && p.Enforce != "soft" {
			return bad("enforce is hard or soft")
		}
	}
	return p, nil
}

func (h *hubApp) licenseTrialCommand() *cobra.Command {
	var (
		out          format
		company, sku string
		notify       bool
	)
	cmd := &cobra.Command{
		Use:   "trial --company ID --sku SKU [--notify]",
		Short: "Start a product's trial for a company (one per company and product)",
		Args:  noArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if strings.TrimSpace(company) == "" || strings.TrimSpace(sku) == "" {
				return usagef("--company and --sku are both needed")
			}
			return nil
		},
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, _ []string) error {
			res, err := hubCall(ctx, h, hub.StartTrial, &v1.StartTrialRequest{CompanyId: company, Sku: sku, Notify: notify})
			if err != nil {
				return err
			}
			return printIssued(h, out, res, "started trial")
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&company, "company", "", "the company's ID")
	fs.StringVar(&sku, "sku", "", "the product's SKU")
	fs.BoolVar(&notify, "notify", false, "mail the trial license to the company's email (the hub needs a mail server)")
	_ = cmd.MarkFlagRequired("company")
	_ = cmd.MarkFlagRequired("sku")
	addOutputFlag(fs, &out)
	return cmd
}

func (h *hubApp) licenseExtendCommand() *cobra.Command {
	var (
		out format
		by  string
	)
	cmd := &cobra.Command{
		Use:   "extend ID [--by DURATION]",
		Short: "Extend a license: a new license with a later expiry supersedes it",
		Long: `Extend a license by --by (like 14d, 720h or 1y; a trial by its product's trial
period when --by is not given). An expired license is extended from now.
The hub signs a new license of the same subscription that supersedes this
one: download it and add it to the customer's masters.`,
		Args: oneArg("license ID"),
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, args []string) error {
			res, err := hubCall(ctx, h, hub.ExtendLicense, &v1.ExtendLicenseRequest{LicenseId: args[0], By: by})
			if err != nil {
				return err
			}
			return printIssued(h, out, res, "extended as license")
		}),
	}
	cmd.Flags().StringVar(&by, "by", "", "how much longer, like 14d or 1y (a trial: its trial period)")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (h *hubApp) licenseConvertCommand() *cobra.Command {
	var (
		out      format
		quantity int64
	)
	cmd := &cobra.Command{
		Use:   "convert ID --quantity N",
		Short: "Convert a trial into a paid license of the product's latest version",
		Args:  oneArg("trial license ID"),
		PreRunE: func(*cobra.Command, []string) error {
			if quantity < 1 {
				return usagef("--quantity N is needed: how many the customer buys, 1 or more")
			}
			return nil
		},
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, args []string) error {
			res, err := hubCall(ctx, h, hub.ConvertTrial, &v1.ConvertTrialRequest{LicenseId: args[0], Quantity: quantity})
			if err != nil {
				return err
			}
			return printIssued(h, out, res, "converted to license")
		}),
	}
	cmd.Flags().Int64Var(&quantity, "quantity", 0, "how many the customer buys")
	_ = cmd.MarkFlagRequired("quantity")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (h *hubApp) licenseAddCommand() *cobra.Command {
	var (
		out      format
		quantity int64
		enable   []string
	)
	cmd := &cobra.Command{
		Use:   "add ID [--quantity N] [--enable MODULE,...]",
		Short: "Add a seat pack or modules: a new license supersedes this one",
		Args:  oneArg("license ID"),
		PreRunE: func(*cobra.Command, []string) error {
			if quantity < 0 {
				return usagef("--quantity must not be negative, got %d", quantity)
			}
			if quantity == 0 && len(enable) == 0 {
				return usagef("nothing to add: give --quantity N (a seat pack) or --enable MODULE")
			}
			return nil
		},
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, args []string) error {
			res, err := hubCall(ctx, h, hub.AddToLicense, &v1.AddToLicenseRequest{LicenseId: args[0], AddQuantity: quantity, EnableFeatures: enable})
			if err != nil {
				return err
			}
			return printIssued(h, out, res, "reissued as license")
		}),
	}
	cmd.Flags().Int64Var(&quantity, "quantity", 0, "a seat pack: add N to the license's quantity")
	cmd.Flags().StringSliceVar(&enable, "enable", nil, "modules to turn on (comma-separated or repeated)")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (h *hubApp) licenseRevokeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a license on the hub",
		Long: `Mark a license revoked on the hub: it can no longer be extended, converted
or added to. Masters check licenses offline, so one that already holds it
keeps it until it is removed there (meshctl license remove ID).`,
		Args: oneArg("license ID"),
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, args []string) error {
			if _, err := hubCall(ctx, h, hub.RevokeLicense, &v1.RevokeLicenseRequest{LicenseId: args[0]}); err != nil {
				return err
			}
			_, err := fmt.Fprintf(h.a.stdout, "revoked license %s\n", tableCell(args[0]))
			return err
		}),
	}
}

func (h *hubApp) licenseListCommand() *cobra.Command {
	var (
		out                      format
		company, sku, typ, after string
		current                  bool
		limit                    int64
	)
	cmd := &cobra.Command{
		Use:   "list [--company ID] [--sku SKU] [--type T] [--current] [--limit N [--after ID]]",
		Short: "List the licenses the hub issued",
		Args:  noArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if limit < 0 {
				return usagef("--limit must not be negative, got %d", limit)
			}
			return nil
		},
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, _ []string) error {
			res, err := hubCall(ctx, h, hub.ListIssuedLicenses, &v1.ListIssuedLicensesRequest{
				CompanyId: company, Sku: sku, Type: typ, Current: current, Limit: limit, After: after,
			})
			if err != nil {
				return err
			}
			ls := res.GetLicenses()
			if limit > 0 && int64(len(ls)) == limit {
				fmt.Fprintf(h.a.stderr, "more may follow: --after %s\n", tableCell(ls[len(ls)-1].GetId()))
			}
			return printList(h.a.stdout, out, res, hubLicenseColumns(), ls)
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&company, "company", "", "only this company's licenses")
	fs.StringVar(&sku, "sku", "", "only licenses of this product")
	fs.StringVar(&typ, "type", "", "only licenses of this type (trial, subscription, perpetual, volume)")
	fs.BoolVar(&current, "current", false, "only licenses neither superseded nor revoked")
	fs.Int64Var(&limit, "limit", 0, "at most N licenses (0: the hub's default)")
	fs.StringVar(&after, "after", "", "the page after this license ID")
	addOutputFlag(fs, &out)
	return cmd
}

func (h *hubApp) licenseShowCommand() *cobra.Command {
	var (
		out  format
		text bool
	)
	cmd := &cobra.Command{
		Use:   "show ID [--text]",
		Short: "Show an issued license (--text prints it as signed)",
		Args:  oneArg("license ID"),
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, args []string) error {
			res, err := hubCall(ctx, h, hub.GetIssuedLicense, &v1.GetIssuedLicenseRequest{Id: args[0]})
			if err != nil {
				return err
			}
			if text {
				_, err := io.WriteString(h.a.stdout, res.GetLicense().GetText())
				return err
			}
			return printOne(h.a.stdout, out, res, hubLicenseDetailColumns(), res.GetLicense())
		}),
	}
	cmd.Flags().BoolVar(&text, "text", false, "print the signed license text")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (h *hubApp) licenseDownloadCommand() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "download ID [-f FILE]",
		Short: "Write the signed license file, ready for meshctl license add",
		Long: `Write a license as the hub signed it, to FILE or to stdout: the file the
customer's masters take, with meshctl license add FILE (or verify offline
first with meshctl license verify FILE --vendor-keys KEYS, the keys from
meshctl hub vendor-keys).`,
		Args: oneArg("license ID"),
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, args []string) error {
			res, err := hubCall(ctx, h, hub.GetIssuedLicense, &v1.GetIssuedLicenseRequest{Id: args[0]})
			if err != nil {
				return err
			}
			l := res.GetLicense()
			switch l.GetStatus() {
			case "superseded":
				fmt.Fprintf(h.a.stderr, "warning: license %s is superseded by %s; the customer needs that one\n", tableCell(l.GetId()), tableCell(l.GetSupersededBy()))
			case "revoked", "expired":
				fmt.Fprintf(h.a.stderr, "warning: license %s is %s\n", tableCell(l.GetId()), l.GetStatus())
			}
			if file == "" || file == "-" {
				_, err := io.WriteString(h.a.stdout, l.GetText())
				return err
			}
			if err := os.WriteFile(file, []byte(l.GetText()), 0o644); err != nil {
				return fmt.Errorf("meshctl: %w", err)
			}
			ends := "no expiry"
			if ms := l.GetExpiresAtMs(); ms != 0 {
				ends = "expires " + msTime(ms)
			}
			_, err = fmt.Fprintf(h.a.stdout, "wrote %s license %s (%s × %d, %s) to %s; put it in force with: meshctl license add %s\n",
				tableCell(l.GetType()), tableCell(l.GetId()), tableCell(l.GetSku()), l.GetQuantity(), ends, file, file)
			return err
		}),
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "write the license here instead of stdout")
	return cmd
}
