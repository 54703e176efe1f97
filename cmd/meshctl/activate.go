package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// maxUpstreamFile bounds an export file, a receipt or a request read from
// disk: what the hub and the masters take.
const maxUpstreamFile = 128 << 20

func (a *app) activateCommand() *cobra.Command {
	var (
		hubURL, hubCA, apiKey, apiKeyFile, company string
		trialEmail, trialSKU, trialCompany         string
		request                                    string
	)
	cmd := &cobra.Command{
		Use:   "activate (--hub URL --api-key KEY [--company ID] | --hub URL --trial EMAIL | --request FILE)",
		Short: "Tie the cluster to its vendor's hub and get its license",
		Long: `Activate the cluster with the vendor's hub, one of three ways:

  --hub URL --api-key KEY [--company ID]
      With an API key of your account at the hub: the hub lists the companies
      the account may activate for (pick one with --company when there are
      several), registers this cluster (its ID and public key), and binds the
      company's license to it; the license is put in force at once. Running
      it again is harmless.
  --hub URL --trial EMAIL [--trial-company NAME] [--sku SKU]
      The trial button: the hub makes an account for EMAIL, mails its sign-up
      link and a trial license, and the cluster puts the trial in force.
  --request FILE
      For a cluster without internet: write a signed activation request to
      FILE. Give it to the vendor (or upload it in the hub's portal); the
      license file that comes back goes in with "meshctl license add".

The hub's certificate is pinned: give its PEM (or its CA's) with --hub-ca
when it is not signed by a CA the masters trust. The API key is used for
this call only and is never stored. Afterwards the leader checks the
cluster's licenses daily and sends usage to the hub; "meshctl upstream"
shows how that goes.`,
		Args: noArgs,
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			if request != "" {
				if hubURL != "" || trialEmail != "" {
					return usagef("--request makes a file for an offline activation; it takes no --hub or --trial")
				}
				res, err := call(ctx, a, admin.MakeActivationRequest, &v1.MakeActivationRequestRequest{})
				if err != nil {
					return err
				}
				if err := os.WriteFile(request, append(res.GetRequest(), '\n'), 0o644); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "wrote the activation request to %s: give it to your vendor (or upload it in the hub's portal), then add the license you get with \"meshctl license add\"\n", request)
				return nil
			}
			if hubURL == "" {
				return usagef("--hub is needed (or --request FILE for a cluster without internet)")
			}
			target := &v1.HubTarget{Url: hubURL}
			if hubCA != "" {
				pem, err := readSmallFile(hubCA)
				if err != nil {
					return usagef("--hub-ca: %v", err)
				}
				target.CaPem = string(pem)
			}
			if trialEmail != "" {
				if apiKey != "" || apiKeyFile != "" {
					return usagef("--trial needs no API key")
				}
				res, err := call(ctx, a, admin.StartClusterTrial, &v1.StartClusterTrialRequest{Hub: target, Email: trialEmail, Sku: trialSKU,
					Company: trialCompany})
				if err != nil {
					return err
				}
				if res.GetLicenseId() == "" {
					fmt.Fprintf(a.stdout, "the hub mailed %s: that address already has an account; activate with an API key of it (--api-key)\n", trialEmail)
					return nil
				}
				fmt.Fprintf(a.stdout, "trial license %s is in force; the hub mailed %s the link to set a password\n", res.GetLicenseId(), trialEmail)
				return nil
			}
			key, err := hubAPIKey(apiKey, apiKeyFile, a.getenv)
			if err != nil {
				return err
			}
			if company == "" {
				res, err := call(ctx, a, admin.ListHubCompanies, &v1.ListHubCompaniesRequest{Hub: target, ApiKey: key})
				if err != nil {
					return err
				}
				cs := res.GetCompanies()
				switch len(cs) {
				case 0:
					return fmt.Errorf("the hub lists no company this API key may activate a cluster for")
				case 1:
					company = cs[0].GetId()
				default:
					tw := tabwriter.NewWriter(a.stderr, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tCOMPANY\tPRODUCTS")
					for _, c := range cs {
						fmt.Fprintf(tw, "%s\t%s\t%s\n", tableCell(c.GetId()), tableCell(c.GetName()), tableCell(strings.Join(c.GetProducts(), ", ")))
					}
					tw.Flush()
					return usagef("this API key may activate for %d companies: pick one with --company ID", len(cs))
				}
			}
			res, err := call(ctx, a, admin.ActivateCluster, &v1.ActivateClusterRequest{Hub: target, ApiKey: key, CompanyId: company})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "activated for %s (%s); licenses in force: %s\n", res.GetCompanyName(), res.GetCompanyId(), strings.Join(res.GetLicenseIds(), ", "))
			return nil
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&hubURL, "hub", "", "the hub's URL, like https://hub.example:7500")
	fs.StringVar(&hubCA, "hub-ca", "", "PEM file of the hub's certificate or CA, to pin it")
	fs.StringVar(&apiKey, "api-key", "", "an API key of your hub account (or LICMESH_HUB_KEY)")
	fs.StringVar(&apiKeyFile, "api-key-file", "", "a file holding the API key")
	fs.StringVar(&company, "company", "", "the company to activate for, when the key may choose")
	fs.StringVar(&trialEmail, "trial", "", "start a trial for this e-mail address instead")
	fs.StringVar(&trialCompany, "trial-company", "", "the company name for the trial (default: from the address)")
	fs.StringVar(&trialSKU, "sku", "", "the product of the trial (default: the hub's)")
	fs.StringVar(&request, "request", "", "write an offline activation request to FILE")
	return cmd
}

// hubAPIKey finds the hub API key: the flag, the file, LICMESH_HUB_KEY.
func hubAPIKey(key, file string, getenv func(string) string) (string, error) {
	switch {
	case key != "" && file != "":
		return "", usagef("give --api-key or --api-key-file, not both")
	case file != "":
		b, err := readSmallFile(file)
		if err != nil {
			return "", usagef("--api-key-file: %v", err)
		}
		key = strings.TrimSpace(string(b))
	case key == "":
		key = strings.TrimSpace(getenv("LICMESH_HUB_KEY"))
	}
	if key == "" {
		return "", usagef("--api-key is needed (or --api-key-file, or LICMESH_HUB_KEY)")
	}
	return key, nil
}

func (a *app) upstreamCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "upstream",
		Short: "Show where the cluster stands with its hub: activation, sync, license check",
		Long: `Show the cluster's link to its vendor's hub: which hub and company, the usage
batches sealed and those the hub has acknowledged (online or by an imported
receipt), what waits to be sent, the last successful sync and license check
and the last error. Ask the leader for the sync loop's live state (--addr
of any master is forwarded nothing: the loop's errors are the leader's).`,
		Args: noArgs,
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.GetUpstream, &v1.GetUpstreamRequest{})
			if err != nil {
				return err
			}
			if out != formatTable {
				return printOne(a.stdout, out, res, upstreamColumns(), res)
			}
			if !res.GetActivated() {
				fmt.Fprintln(a.stdout, "not activated with a hub (meshctl activate)")
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			for _, c := range upstreamColumns() {
				fmt.Fprintf(tw, "%s\t%s\n", c.header, tableCell(c.value(res)))
			}
			return tw.Flush()
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func upstreamColumns() []column[*v1.GetUpstreamResponse] {
	type u = *v1.GetUpstreamResponse
	return []column[u]{
		{"HUB", func(r u) string { return r.GetHubUrl() }},
		{"COMPANY", func(r u) string { return strings.TrimSpace(r.GetCompanyName() + " " + r.GetCompanyId()) }},
		{"ACTIVATED", func(r u) string { return msTime(r.GetActivatedAtMs()) }},
		{"SEALED", func(r u) string { return fmt.Sprint(r.GetHeadSeq()) }},
		{"ACKNOWLEDGED", func(r u) string {
			return strings.TrimSpace(fmt.Sprintf("%d %s %s", r.GetAckedSeq(), r.GetAckedVia(), msTime(r.GetAckedAtMs())))
		}},
		{"WAITING", func(r u) string {
			return fmt.Sprintf("%d batches (%d bytes), %d periods changed", r.GetOutbox(), r.GetOutboxBytes(), r.GetDirty())
		}},
		{"LAST SYNC", func(r u) string { return msTime(r.GetLastSyncMs()) }},
		{"LAST ERROR", func(r u) string {
			if r.GetLastError() == "" {
				return ""
			}
			return msTime(r.GetLastErrorMs()) + " " + r.GetLastError()
		}},
		{"NEXT ATTEMPT", func(r u) string { return msTime(r.GetNextAttemptMs()) }},
		{"LICENSE CHECK", func(r u) string {
			s := msTime(r.GetLastCheckMs()) + " " + r.GetLastCheckSummary()
			if r.GetLastCheckError() != "" {
				s += " (last attempt failed: " + r.GetLastCheckError() + ")"
			}
			return strings.TrimSpace(s)
		}},
	}
}

func (a *app) licenseCheckCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Ask the hub for the cluster's licenses now (the daily check, at once)",
		Args:  noArgs,
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.CheckLicensesNow, &v1.CheckLicensesNowRequest{})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "license check: %s\n", res.GetSummary())
			return nil
		}),
	}
}

func (a *app) usageExportCommand() *cobra.Command {
	var outFile, since string
	cmd := &cobra.Command{
		Use:   "export --out FILE [--since YYYY-MM]",
		Short: "Write the usage the hub has not acknowledged to a file, for a site without internet",
		Long: `Write the usage batches the hub has not acknowledged yet (sealing what changed
since the last one) to FILE, to carry to the vendor's hub and upload there
("meshctl hub usage upload", or the hub's portal). The hub answers with a
receipt; "meshctl usage receipt FILE" imports it, and the batches it covers
are not exported again. Uploading a file twice, or a file whose batches
also went online, counts once. --since re-sends every month and day from
that month on, for a hub that lost them.`,
		Args: noArgs,
		RunE: a.action(func(ctx context.Context, _ []string) error {
			if outFile == "" {
				return usagef("--out is needed")
			}
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.ExportUsage, &v1.ExportUsageRequest{Since: since})
			if err != nil {
				return err
			}
			if err := os.WriteFile(outFile, res.GetFile(), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "wrote usage batches %d to %d to %s\n", res.GetFirstSeq(), res.GetLastSeq(), outFile)
			return nil
		}),
	}
	cmd.Flags().StringVar(&outFile, "out", "", "the file to write")
	cmd.Flags().StringVar(&since, "since", "", "also re-send every month and day from this month (YYYY-MM)")
	return cmd
}

func (a *app) usageReceiptCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "receipt FILE",
		Short: "Import the hub's receipt for an uploaded usage file",
		Args:  oneArg("receipt file"),
		RunE: a.action(func(ctx context.Context, args []string) error {
			b, err := readInput(args[0], maxUpstreamFile)
			if err != nil {
				return usagef("%v", err)
			}
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.ImportUsageReceipt, &v1.ImportUsageReceiptRequest{Receipt: b})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "the hub holds usage batches up to %d; %d dropped from the outbox\n", res.GetSeq(), res.GetDropped())
			return nil
		}),
	}
}
