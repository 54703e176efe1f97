package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

func (h *hubApp) siteCommand() *cobra.Command {
	return group("site", "Customers' clusters: list them, activate one from its request file",
		h.siteListCommand(),
		h.siteActivateCommand(),
		h.installationsCommand(),
	)
}

func siteColumns() []column[*v1.Site] {
	type s = *v1.Site
	return []column[s]{
		{"CLUSTER", func(x s) string { return x.GetClusterId() }},
		{"COMPANY", func(x s) string { return x.GetCompanyName() }},
		{"PRODUCTS", func(x s) string { return joinComma(x.GetProducts()) }},
		{"MASTERS", func(x s) string { return joinComma(x.GetMasterVersions()) }},
		{"COLLECTORS", func(x s) string { return joinComma(x.GetCollectorVersions()) }},
		{"ARRIVAL", func(x s) string { return x.GetArrival() }},
		{"LAST BATCH", func(x s) string { return strconv.FormatUint(x.GetLastSeq(), 10) }},
		{"LAST CONTACT", func(x s) string { return msTime(x.GetLastContactMs()) }},
		{"REGISTERED", func(x s) string { return msTime(x.GetRegisteredAtMs()) }},
	}
}

func (h *hubApp) siteListCommand() *cobra.Command {
	var (
		out     format
		company string
	)
	cmd := &cobra.Command{
		Use:   "list [--company ID]",
		Short: "List registered clusters, their versions and how their usage arrives",
		Args:  noArgs,
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, _ []string) error {
			res, err := hubCall(ctx, h, hub.ListSites, &v1.ListSitesRequest{CompanyId: company})
			if err != nil {
				return err
			}
			return printList(h.a.stdout, out, res, siteColumns(), res.GetSites())
		}),
	}
	cmd.Flags().StringVar(&company, "company", "", "only this company's clusters")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (h *hubApp) siteActivateCommand() *cobra.Command {
	var company, outDir string
	cmd := &cobra.Command{
		Use:   "activate REQUEST-FILE --company ID --out DIR",
		Short: "Turn a cluster's offline activation request into its license files",
		Long: `Register the cluster an activation request file names ("meshctl activate
--request" wrote it on the site) for a company, bind the company's licenses
to it, and write them to DIR as LICENSE-ID.lic, for the site's
"meshctl license add".`,
		Args: oneArg("activation request file"),
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, args []string) error {
			if company == "" || outDir == "" {
				return usagef("--company and --out are needed")
			}
			b, err := readInput(args[0], maxUpstreamFile)
			if err != nil {
				return usagef("%v", err)
			}
			res, err := hubCall(ctx, h, hub.ActivateOffline, &v1.ActivateOfflineRequest{Request: b, CompanyId: company})
			if err != nil {
				return err
			}
			if err := os.MkdirAll(outDir, 0o755); err != nil {
				return err
			}
			for i, text := range res.GetLicenses() {
				path := filepath.Join(outDir, fmt.Sprintf("%s-%d.lic", res.GetClusterId(), i+1))
				if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
					return err
				}
				fmt.Fprintf(h.a.stdout, "wrote %s\n", path)
			}
			return nil
		}),
	}
	cmd.Flags().StringVar(&company, "company", "", "the company the cluster belongs to")
	cmd.Flags().StringVar(&outDir, "out", "", "the directory to write the license files to")
	return cmd
}

func installationColumns() []column[*v1.InstallationRow] {
	type r = *v1.InstallationRow
	return []column[r]{
		{"COMPANY", func(x r) string { return x.GetCompanyName() }},
		{"CLUSTER", func(x r) string { return x.GetClusterId() }},
		{"INSTALLATION", func(x r) string { return x.GetInstallation() }},
		{"PRODUCTS", func(x r) string { return x.GetProducts() }},
		{"MONTH", func(x r) string { return x.GetMonth() }},
		{"USERS", func(x r) string { return i64(x.GetUsers()) }},
		{"CASES", func(x r) string { return i64(x.GetCases()) }},
		{"LAST REPORT", func(x r) string { return msTime(x.GetLastReportMs()) }},
		{"ARRIVAL", func(x r) string { return x.GetArrival() }},
		{"OVER LIMIT", func(x r) string { return strconv.FormatBool(x.GetOverLimit()) }},
		{"SILENT", func(x r) string { return strconv.FormatBool(x.GetSilent()) }},
	}
}

func (h *hubApp) installationsCommand() *cobra.Command {
	var (
		out     format
		company string
	)
	cmd := &cobra.Command{
		Use:   "installations [--company ID]",
		Short: "The sales monitor: every installation's latest users and cases",
		Args:  noArgs,
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, _ []string) error {
			res, err := hubCall(ctx, h, hub.ListInstallations, &v1.ListInstallationsRequest{CompanyId: company})
			if err != nil {
				return err
			}
			return printList(h.a.stdout, out, res, installationColumns(), res.GetInstallations())
		}),
	}
	cmd.Flags().StringVar(&company, "company", "", "only this company's installations")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (h *hubApp) usageCommand() *cobra.Command {
	return group("usage", "Take usage files from sites without internet",
		h.usageUploadCommand(),
	)
}

func (h *hubApp) usageUploadCommand() *cobra.Command {
	var receipt string
	cmd := &cobra.Command{
		Use:   "upload FILE [--receipt OUT]",
		Short: "Upload a site's usage export file; write the receipt for the site",
		Long: `Upload a usage export file ("meshctl usage export" on the site). Every batch
is checked against the cluster's registered key and the chain the hub
holds: a file edited by one byte, from another cluster, or with a missing
batch is refused and changes nothing; batches the hub holds already count
once. The hub's signed receipt is written to --receipt, for the site's
"meshctl usage receipt".`,
		Args: oneArg("usage export file"),
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, args []string) error {
			b, err := readInput(args[0], maxUpstreamFile)
			if err != nil {
				return usagef("%v", err)
			}
			res, err := hubCall(ctx, h, hub.UploadUsage, &v1.UploadUsageRequest{File: b})
			if err != nil {
				return err
			}
			fmt.Fprintf(h.a.stdout, "cluster %s: %d batches new, %d already held; the hub holds batches up to %d\n",
				res.GetClusterId(), res.GetAccepted(), res.GetDuplicates(), res.GetSeq())
			if receipt != "" {
				if err := os.WriteFile(receipt, append(res.GetReceipt(), '\n'), 0o644); err != nil {
					return err
				}
				fmt.Fprintf(h.a.stdout, "wrote the receipt to %s\n", receipt)
			}
			return nil
		}),
	}
	cmd.Flags().StringVar(&receipt, "receipt", "", "write the hub's receipt to this file")
	return cmd
}

func joinComma(s []string) string { return strings.Join(s, ", ") }
