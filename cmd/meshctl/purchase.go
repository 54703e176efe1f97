package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

func purchaseColumns() []column[*v1.Purchase] {
	type p = *v1.Purchase
	return []column[p]{
		{"ID", func(x p) string { return x.GetId() }},
		{"PRODUCT", func(x p) string { return x.GetSku() }},
		{"ASKS", func(x p) string {
			if x.GetModule() != "" {
				return "module " + x.GetModule()
			}
			return fmt.Sprintf("%d seats of %s", x.GetQuantity(), x.GetPool())
		}},
		{"STATE", func(x p) string { return x.GetState() }},
		{"REQUESTED", func(x p) string { return msTime(x.GetRequestedAtMs()) }},
		{"BY", func(x p) string { return x.GetRequestedBy() }},
		{"DECIDED BY", func(x p) string { return x.GetDecidedBy() }},
		{"ANSWER", func(x p) string { return x.GetAnswer() }},
	}
}

func (a *app) purchaseCommand() *cobra.Command {
	return group("purchase", "Ask the vendor for more seats or a module: request, approve, follow the answer",
		a.purchaseRequestCommand(), a.purchaseDecideCommand(true), a.purchaseDecideCommand(false), a.purchaseListCommand(),
		a.purchaseExportCommand())
}

func (a *app) purchaseRequestCommand() *cobra.Command {
	var (
		out                       format
		sku, pool, module, reason string
		quantity                  int64
	)
	cmd := &cobra.Command{
		Use:   "request --sku SKU (--pool P --quantity N | --module M) [--reason R]",
		Short: "Ask for more seats of a pool or for a module (license managers)",
		Long: `File a purchase request. An admin approves or declines it ('meshctl purchase
approve ID'); an approved request goes to the vendor's hub with the next
license check, within a minute when the site is online, and the vendor's
answer comes back the same way ('meshctl purchase list'). The seats or the
module the vendor sells arrive as a license, with the daily check.`,
		Args: noArgs,
		PreRunE: func(*cobra.Command, []string) error {
			switch {
			case sku == "":
				return usagef("--sku is required")
			case (pool == "") == (module == ""):
				return usagef("ask for seats (--pool and --quantity) or for a --module, one of them")
			case pool != "" && (quantity < 1 || quantity > 1_000_000):
				return usagef("--quantity must be 1 to 1000000")
			}
			return nil
		},
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.RequestPurchase, &v1.RequestPurchaseRequest{Sku: sku, Pool: pool, Quantity: uint32(quantity), Module: module, Reason: reason})
			if err != nil {
				return err
			}
			return printOne(a.stdout, out, res, purchaseColumns(), res.GetPurchase())
		}),
	}
	fs := cmd.Flags()
	fs.StringVar(&sku, "sku", "", "the product")
	fs.StringVar(&pool, "pool", "", "the pool to add seats to")
	fs.Int64Var(&quantity, "quantity", 0, "how many seats")
	fs.StringVar(&module, "module", "", "the module (feature) to buy")
	fs.StringVar(&reason, "reason", "", "why, for the approver and the vendor")
	addOutputFlag(fs, &out)
	return cmd
}

func (a *app) purchaseDecideCommand(approve bool) *cobra.Command {
	var (
		out  format
		note string
	)
	verb, short := "decline", "Decline a purchase request (admins)"
	if approve {
		verb, short = "approve", "Approve a purchase request; it goes to the vendor with the next check (admins)"
	}
	cmd := &cobra.Command{
		Use:   verb + " ID [--note N]",
		Short: short,
		Args:  oneArg("purchase request ID"),
		RunE: a.action(func(ctx context.Context, args []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.DecidePurchase, &v1.DecidePurchaseRequest{Id: args[0], Approve: approve, Note: note})
			if err != nil {
				return err
			}
			return printOne(a.stdout, out, res, purchaseColumns(), res.GetPurchase())
		}),
	}
	cmd.Flags().StringVar(&note, "note", "", "a note on the decision")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (a *app) purchaseListCommand() *cobra.Command {
	var out format
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the purchase requests, newest first, with the vendor's answers",
		Args:  noArgs,
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.ListPurchases, &v1.ListPurchasesRequest{})
			if err != nil {
				return err
			}
			return printList(a.stdout, out, res, purchaseColumns(), res.GetPurchases())
		}),
	}
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (h *hubApp) quoteCommand() *cobra.Command {
	return group("quote", "Sites' requests to buy, and the answers to them",
		h.quoteListCommand(), h.quoteAnswerCommand(), h.quoteImportCommand())
}

func (h *hubApp) quoteListCommand() *cobra.Command {
	var (
		out  format
		open bool
	)
	cmd := &cobra.Command{
		Use:   "list [--open]",
		Short: "List the sites' purchase requests, the latest first",
		Args:  noArgs,
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, _ []string) error {
			res, err := hubCall(ctx, h, hub.ListQuoteRequests, &v1.ListQuoteRequestsRequest{Open: open})
			if err != nil {
				return err
			}
			type q = *v1.HubQuoteRequest
			return printList(h.a.stdout, out, res, []column[q]{
				{"ID", func(x q) string { return x.GetRequest().GetId() }},
				{"COMPANY", func(x q) string { return x.GetCompanyId() }},
				{"CLUSTER", func(x q) string { return x.GetClusterId() }},
				{"PRODUCT", func(x q) string { return x.GetRequest().GetSku() }},
				{"ASKS", func(x q) string {
					if m := x.GetRequest().GetModule(); m != "" {
						return "module " + m
					}
					return fmt.Sprintf("%d seats of %s", x.GetRequest().GetQuantity(), x.GetRequest().GetPool())
				}},
				{"REASON", func(x q) string { return x.GetRequest().GetReason() }},
				{"RECEIVED", func(x q) string { return msTime(x.GetReceivedAtMs()) }},
				{"ANSWER", func(x q) string { return x.GetAnswer() }},
			}, res.GetRequests())
		}),
	}
	cmd.Flags().BoolVar(&open, "open", false, "only those not answered")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

func (h *hubApp) quoteAnswerCommand() *cobra.Command {
	var answer string
	cmd := &cobra.Command{
		Use:   "answer ID --answer TEXT",
		Short: "Answer a site's purchase request; the site sees it with its next check",
		Args:  oneArg("quote request ID"),
		PreRunE: func(*cobra.Command, []string) error {
			if answer == "" {
				return usagef("--answer is required")
			}
			return nil
		},
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, args []string) error {
			if _, err := hubCall(ctx, h, hub.AnswerQuoteRequest, &v1.AnswerQuoteRequestRequest{Id: args[0], Answer: answer}); err != nil {
				return err
			}
			_, err := fmt.Fprintf(h.a.stdout, "answered %s\n", args[0])
			return err
		}),
	}
	cmd.Flags().StringVar(&answer, "answer", "", "the answer the site sees: a quote, what was sold, or why not")
	return cmd
}

func (a *app) purchaseExportCommand() *cobra.Command {
	var outFile string
	cmd := &cobra.Command{
		Use:   "export --out FILE",
		Short: "Write the approved requests as a signed file, for a site with no internet",
		Long: `Write the approved purchase requests the hub does not have yet to FILE,
signed with the cluster's key, to carry to the vendor ('meshctl hub quote
import FILE' there). They count as sent; a file imported twice is kept
once.`,
		Args: noArgs,
		PreRunE: func(*cobra.Command, []string) error {
			if outFile == "" {
				return usagef("--out is required")
			}
			return nil
		},
		RunE: a.action(func(ctx context.Context, _ []string) error {
			admin, err := a.client()
			if err != nil {
				return err
			}
			res, err := call(ctx, a, admin.ExportPurchaseRequests, &v1.ExportPurchaseRequestsRequest{})
			if err != nil {
				return err
			}
			if err := os.WriteFile(outFile, res.GetFile(), 0o644); err != nil {
				return fmt.Errorf("meshctl: %w", err)
			}
			_, err = fmt.Fprintf(a.stdout, "wrote %d requests to %s: %s\n", len(res.GetIds()), outFile, strings.Join(res.GetIds(), ", "))
			return err
		}),
	}
	cmd.Flags().StringVar(&outFile, "out", "", "the file to write")
	return cmd
}

func (h *hubApp) quoteImportCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "import FILE",
		Short: "Take a site's purchase request file (meshctl purchase export)",
		Args:  oneArg("file"),
		RunE: h.run(func(ctx context.Context, hub licmeshv1connect.HubServiceClient, args []string) error {
			b, err := readSmallFile(args[0])
			if err != nil {
				return usagef("%v", err)
			}
			res, err := hubCall(ctx, h, hub.ImportQuoteRequests, &v1.ImportQuoteRequestsRequest{File: b})
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(h.a.stdout, "%d requests of %s, %d new: %s\n", len(res.GetIds()), res.GetClusterId(), res.GetFresh(), strings.Join(res.GetIds(), ", "))
			return err
		}),
	}
}
