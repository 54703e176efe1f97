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

func productColumns() []column[*v1.Product] {
	type p = *v1.Product
	return []column[p]{
		{"SKU", func(r p) string { return r.GetSku() }},
		{"VERSION", func(r p) string { return i64(r.GetVersion()) }},
		{"NAME", func(r p) string { return r.GetName() }},
		{"APPLICATION", func(r p) string { return r.GetApplication() }},
		{"APP VERSION", func(r p) string { return r.GetAppVersion() }},
		{"TYPE", func(r p) string { return r.GetType() }},
		{"BILLING", func(r p) string { return r.GetBilling() }},
		{"TRIAL", func(r p) string {
			if r.GetTrialPeriodCount() == 0 {
				return ""
			}
			return count(int(r.GetTrialPeriodCount()), r.GetTrialPeriodUnit())
		}},
		{"CREATED", func(r p) string { return msTime(r.GetCreatedAtMs()) }},
	}
}

// productDetailColumns add the templates and features, for show and save.
func productDetailColumns() []column[*v1.Product] {
	type p = *v1.Product
	return append(productColumns(),
		column[p]{"TRIAL TEMPLATE", func(r p) string { return describeTemplate(r.GetTrialTemplate()) }},
		column[p]{"LICENSE TEMPLATE", func(r p) string { return describeTemplate(r.GetLicenseTemplate()) }},
		column[p]{"FEATURES", func(r p) string {
			names := make([]string, len(r.GetFeatures()))
			for i, f := range r.GetFeatures() {
				names[i] = f.GetName()
			}
			return strings.Join(names, ", ")
		}},
	)
}

// describeTemplate renders a license template on one line:
// "adminUser 1 user (fixed); projects 1 user (per qty), amount 5 (fixed)".
func describeTemplate(es []*v1.TemplateEntry) string {
	parts := make([]string, len(es))
	for i, e := range es {
		s := e.GetName() + " " + count(int(e.GetUsers()), "user")
		if c := e.GetUsersCalculation(); c != "" {
			s += " (" + c + ")"
		}
		if e.GetAmount() != 0 {
			s += ", amount " + i64(e.GetAmount())
			if c := e.GetAmountCalculation(); c != "" {
				s += " (" + c + ")"
			}
		}
		if e.GetEnforce() != "" {
			s += ", " + e.GetEnforce()
		}
		if e.GetOverage() != 0 {
			s += ", overage " + i64(e.GetOverage())
		}
		parts[i] = s
	}
	return strings.Join(parts, "; ")
}

func i64(v int64) string { return strconv.FormatInt(v, 10) }

func (h *hubApp) productCommand() *cobra.Command {
	return group("product", "Save, list and show products and their license templates",
		h.productSaveCommand(),
		h.productListCommand(),
		h.productShowCommand(),
	)
}

func (h *hubApp) productSaveCommand() *cobra.Command {
	var (
		out  format
		file string
	)
	cmd := &cobra.Command{
		Use:   "save -f FILE",
		Short: "Create a product, or a new version of one, from a YAML or JSON file",
		Long: `Save a product from a file (YAML or JSON; - for standard input) holding one
Product message of the hub API, fields named as in hub.proto
(license_template) or in JSON form (licenseTemplate), as seed 002 writes
them:

    sku: timesheet-admin
    name: Timesheet Admin User
    application: orektic__timesheet
    app_version: 2.1.0
    type: subscription        # subscription, perpetual or volume
    billing: annually         # monthly, quarterly or annually
    trial_period_count: 14
    trial_period_unit: day    # day, week, month or year
    trial_template:
      - {name: orektic__timehseetAdminUser, users: 5}
    license_template:
      - {name: orektic__timehseetAdminUser, users: 1, usersCalculation: fixed}
      - {name: orektic__timehseetProjects, users: 1, usersCalculation: per qty,
         amount: 5, amountCalculation: fixed}
    features:
      - {name: orektic__timesheet, type: checkbox, scope: instance}

The file is read strictly: an unknown or repeated field is refused, naming
it and its line, before anything is sent. The hub checks the product by
issuing its licenses in memory. Saving a SKU that has issued licenses makes
a new version; the licenses keep theirs.`,
		Args: noArgs,
		RunE: h.action(func(ctx context.Context, _ []string) error {
			var p v1.Product
			if err := readProductFile(file, &p); err != nil {
				return err
			}
			hub, err := h.client()
			if err != nil {
				return err
			}
			res, err := hubCall(ctx, h, hub.SaveProduct, &v1.SaveProductRequest{Product: &p})
			if err != nil {
				return err
			}
			if out == formatTable {
				fmt.Fprintf(h.a.stderr, "saved product %s version %d\n", tableCell(res.GetProduct().GetSku()), res.GetProduct().GetVersion())
			}
			return printOne(h.a.stdout, out, res, productDetailColumns(), res.GetProduct())
		}),
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the product file, YAML or JSON (- for standard input)")
	_ = cmd.MarkFlagRequired("file")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

// readProductFile reads and strictly decodes a product file. Every problem
// with it is a usage error: nothing was sent.
func readProductFile(path string, p *v1.Product) error {
	b, err := readInput(path, maxFileBytes)
	if err != nil {
		return usagef("-f: %v", err)
	}
	if err := decodeStrict(b, p); err != nil {
		return usagef("%s: %v", path, err)
	}
	return nil
}

func (h *hubApp) productListCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List products, each at its latest version",
		Args:  noArgs,
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, _ []string) error {
			res, err := hubCall(ctx, h, hub.ListProducts, &v1.ListProductsRequest{})
			if err != nil {
				return err
			}
			return printList(h.a.stdout, out, res, productColumns(), res.GetProducts())
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (h *hubApp) productShowCommand() *cobra.Command {
	var (
		out     format
		version int64
	)
	cmd := &cobra.Command{
		Use:   "show SKU [--version N]",
		Short: "Show a product's templates and features, and its versions",
		Args:  oneArg("SKU"),
		PreRunE: func(*cobra.Command, []string) error {
			if version < 0 {
				return usagef("--version must be 1 or more (0: the latest), got %d", version)
			}
			return nil
		},
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, args []string) error {
			res, err := hubCall(ctx, h, hub.GetProduct, &v1.GetProductRequest{Sku: args[0], Version: version})
			if err != nil {
				return err
			}
			if err := printOne(h.a.stdout, out, res, productDetailColumns(), res.GetProduct()); err != nil || out != formatTable {
				return err
			}
			fmt.Fprintln(h.a.stdout, "\nVERSIONS")
			return printList(h.a.stdout, out, res, []column[*v1.Product]{
				{"VERSION", func(r *v1.Product) string { return i64(r.GetVersion()) }},
				{"CREATED", func(r *v1.Product) string { return msTime(r.GetCreatedAtMs()) }},
			}, res.GetVersions())
		}),
	}
	cmd.Flags().Int64Var(&version, "version", 0, "the version to show (default: the latest)")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}
